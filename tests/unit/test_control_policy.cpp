// SPDX-License-Identifier: MIT
//
// KtlsaccelPolicy: the kernel's nla_policy tables (kmod/netlink.c, read as
// text) enforce exactly what uapi/linux/ktlsaccel.yaml promises. For every
// operation the kernel takes the attributes the YAML's request lists, no
// more; each has the YAML's type and limits, read the way the kernel's YAML
// code generator (tools/net/ynl) reads them: explicit `checks` (min, max,
// max-len), an `enum` meaning its values' range (min only when the first is
// not 0), `enum-as-flags` meaning the OR of the flags as a mask, a nest the
// policy of its whole attribute set. Operations keep their admin-perm flag
// and do/dump kind. A kernel limit of 0 as a minimum is the same as none
// (the attributes are unsigned).

#include <gtest/gtest.h>

#ifdef KTLSACCEL_HAVE_YAML_CPP

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string slurp(const std::string &rel)
{
	std::ifstream in(std::string(KTLSACCEL_SOURCE_DIR) + "/" + rel);
	std::stringstream ss;
	ss << in.rdbuf();
	return ss.str();
}

std::string strip_comments(const std::string &text)
{
	std::string t = std::regex_replace(text, std::regex(R"(/\*[\s\S]*?\*/)"), " ");
	return std::regex_replace(t, std::regex(R"(//[^\n]*)"), " ");
}

std::string trim(const std::string &s)
{
	auto b = s.find_first_not_of(" \t\n");
	auto e = s.find_last_not_of(" \t\n");
	return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string c_upper(std::string s)
{
	for (auto &c : s)
		c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
	return s;
}

// Names the expressions of the policies use: the uapi header's enumerators
// and numeric #defines, and the one kernel constant (include/linux/crypto.h,
// unchanged since 2.6).
std::map<std::string, long long> known_names()
{
	std::map<std::string, long long> k = {{"CRYPTO_MAX_ALG_NAME", 128}};
	std::string h = strip_comments(slurp("uapi/linux/ktlsaccel.h"));
	static const std::regex def(R"(#define\s+(\w+)[ \t]+(\d+)[ \t]*\n)");
	for (std::sregex_iterator it(h.begin(), h.end(), def), end; it != end; ++it)
		k[(*it)[1]] = std::stoll((*it)[2]);
	static const std::regex en(R"(enum\s*\w*\s*\{([^}]*)\})");
	for (std::sregex_iterator it(h.begin(), h.end(), en), end; it != end; ++it) {
		std::stringstream items((*it)[1].str());
		long long next = 0;
		for (std::string item; std::getline(items, item, ',');) {
			item = trim(item);
			if (item.empty())
				continue;
			auto eq = item.find('=');
			std::string name = trim(item.substr(0, eq));
			long long v = next;
			if (eq != std::string::npos) {
				std::smatch m;
				std::string rhs = trim(item.substr(eq + 1));
				static const std::regex shift(R"((\d+)\s*<<\s*(\d+))");
				static const std::regex minus(R"((\w+)\s*-\s*1)");
				if (std::regex_match(rhs, m, shift))
					v = std::stoll(m[1]) << std::stoll(m[2]);
				else if (std::regex_match(rhs, m, minus) && k.count(m[1]))
					v = k[m[1]] - 1;
				else if (std::isdigit(static_cast<unsigned char>(rhs[0])))
					v = std::stoll(rhs);
			}
			k[name] = v;
			next = v + 1;
		}
	}
	// KTLSACCEL_RESET_ALL is an OR of enumerators
	static const std::regex all(R"(#define\s+KTLSACCEL_RESET_ALL\s+\(([^)]*)\))");
	std::smatch m;
	if (std::regex_search(h, m, all)) {
		long long v = 0;
		std::stringstream terms(m[1].str());
		for (std::string t; std::getline(terms, t, '|');)
			v |= k.at(trim(t));
		k["KTLSACCEL_RESET_ALL"] = v;
	}
	return k;
}

// "NAME", "NAME - 1", "123", "NAME + 2"
std::optional<long long> eval(const std::string &expr, const std::map<std::string, long long> &k)
{
	static const std::regex arith(R"(^\s*(\w+)\s*([-+])\s*(\d+)\s*$)");
	std::smatch m;
	std::string e = trim(expr);
	if (std::regex_match(e, m, arith)) {
		auto base = eval(m[1], k);
		if (!base)
			return std::nullopt;
		return m[2] == "-" ? *base - std::stoll(m[3]) : *base + std::stoll(m[3]);
	}
	if (!e.empty() && std::isdigit(static_cast<unsigned char>(e[0])))
		return std::stoll(e, nullptr, 0);
	if (k.count(e))
		return k.at(e);
	return std::nullopt;
}

// One attribute's validation, normalised.
struct Check {
	std::string type;	// u32, u64, string, nest
	std::optional<long long> min, max, mask, max_len;
	std::string nested;	// kernel: policy table; YAML: attribute set

	std::string str() const
	{
		std::string s = type;
		if (min)
			s += " min " + std::to_string(*min);
		if (max)
			s += " max " + std::to_string(*max);
		if (mask)
			s += " mask " + std::to_string(*mask);
		if (max_len)
			s += " max-len " + std::to_string(*max_len);
		return s;
	}
};

// Splits "a, f(b, c), { .x = d, }" at top-level commas.
std::vector<std::string> split_top(const std::string &s)
{
	std::vector<std::string> out;
	int depth = 0;
	std::string cur;
	for (char c : s) {
		if (c == '(' || c == '{' || c == '[')
			depth++;
		if (c == ')' || c == '}' || c == ']')
			depth--;
		if (c == ',' && depth == 0) {
			out.push_back(trim(cur));
			cur.clear();
			continue;
		}
		cur += c;
	}
	if (!trim(cur).empty())
		out.push_back(trim(cur));
	return out;
}

// The text between the brace at `open` and its partner.
std::string braced(const std::string &s, std::size_t open)
{
	int depth = 0;
	for (std::size_t i = open; i < s.size(); i++) {
		if (s[i] == '{')
			depth++;
		if (s[i] == '}' && --depth == 0)
			return s.substr(open + 1, i - open - 1);
	}
	return "";
}

// ".min = 1, .max = X" -> {min: "1", max: "X"}
std::map<std::string, std::string> designated(const std::string &body)
{
	std::map<std::string, std::string> f;
	for (const auto &item : split_top(body)) {
		static const std::regex d(R"(^\.(\w+)\s*=\s*([\s\S]*)$)");
		std::smatch m;
		if (std::regex_match(item, m, d))
			f[m[1]] = trim(m[2]);
	}
	return f;
}

struct KernelOp {
	std::string policy;	// "" if none
	bool admin = false, doit = false, dumpit = false;
};

struct Kernel {
	std::map<std::string, std::map<std::string, Check>> policies;	// table -> attr -> check
	std::map<std::string, KernelOp> ops;				// KTLSACCEL_CMD_* -> op
	std::vector<std::string> problems;				// what could not be read
};

std::string nla_type(const std::string &t)
{
	static const std::map<std::string, std::string> m = {
		{"NLA_U32", "u32"}, {"NLA_U64", "u64"}, {"NLA_NUL_STRING", "string"},
		{"NLA_NESTED", "nest"}, {"NLA_U8", "u8"}, {"NLA_U16", "u16"},
		{"NLA_STRING", "unterminated string"}, {"NLA_FLAG", "flag"}};
	auto it = m.find(trim(t));
	return it == m.end() ? "?" + trim(t) : it->second;
}

Kernel parse_kernel(const std::string &source)
{
	Kernel kn;
	const auto known = known_names();
	std::string text = strip_comments(source);
	auto value = [&](const std::string &e) -> std::optional<long long> {
		auto v = eval(e, known);
		if (!v)
			kn.problems.push_back("cannot evaluate '" + e + "'");
		return v;
	};

	std::map<std::string, std::map<std::string, std::string>> ranges;
	static const std::regex range(R"(struct\s+netlink_range_validation\s+(\w+)\s*=\s*\{)");
	for (std::sregex_iterator it(text.begin(), text.end(), range), end; it != end; ++it)
		ranges[(*it)[1]] = designated(braced(text, it->position() + it->length() - 1));

	static const std::regex table(R"(struct\s+nla_policy\s+(\w+)\s*\[[^\]]*\]\s*=\s*\{)");
	static const std::regex entry(R"(^\[\s*(\w+)\s*\]\s*=\s*([\s\S]*)$)");
	static const std::regex macro(R"(^(NLA_POLICY_\w+)\s*\(([\s\S]*)\)$)");
	for (std::sregex_iterator it(text.begin(), text.end(), table), end; it != end; ++it) {
		auto &pol = kn.policies[(*it)[1]];
		for (const auto &item : split_top(braced(text, it->position() + it->length() - 1))) {
			std::smatch e, m;
			if (!std::regex_match(item, e, entry)) {
				kn.problems.push_back("policy entry '" + item + "'");
				continue;
			}
			Check c;
			std::string init = trim(e[2]);
			if (std::regex_match(init, m, macro)) {
				std::string name = m[1];
				auto args = split_top(m[2]);
				if (name == "NLA_POLICY_NESTED" && args.size() == 1) {
					c.type = "nest";
					c.nested = args[0];
				} else if (name == "NLA_POLICY_RANGE" && args.size() == 3) {
					c.type = nla_type(args[0]);
					c.min = value(args[1]);
					c.max = value(args[2]);
				} else if (name == "NLA_POLICY_MIN" && args.size() == 2) {
					c.type = nla_type(args[0]);
					c.min = value(args[1]);
				} else if (name == "NLA_POLICY_MAX" && args.size() == 2) {
					c.type = nla_type(args[0]);
					c.max = value(args[1]);
				} else if (name == "NLA_POLICY_MASK" && args.size() == 2) {
					c.type = nla_type(args[0]);
					c.mask = value(args[1]);
				} else if (name == "NLA_POLICY_FULL_RANGE" && args.size() == 2) {
					c.type = nla_type(args[0]);
					std::string r = trim(args[1]);
					if (r.starts_with("&"))
						r = trim(r.substr(1));
					if (!ranges.count(r)) {
						kn.problems.push_back("no range struct " + r);
						continue;
					}
					auto &f = ranges[r];
					c.min = f.count("min") ? value(f["min"]) : 0;
					c.max = f.count("max") ? value(f["max"]) : std::nullopt;
				} else {
					kn.problems.push_back("policy macro not understood: " + init);
					continue;
				}
			} else if (init.starts_with("{")) {
				auto f = designated(init.substr(1, init.size() - 2));
				c.type = nla_type(f["type"]);
				if (f.count("len"))
					c.max_len = value(f["len"]);
				if (f.size() != 1 + f.count("len"))
					kn.problems.push_back("policy fields not understood: " + init);
			} else {
				kn.problems.push_back("policy entry not understood: " + init);
				continue;
			}
			if (c.min && *c.min == 0)
				c.min.reset();
			pol[e[1]] = c;
		}
	}

	static const std::regex ops(R"(struct\s+genl_ops\s+\w+\s*\[\s*\]\s*=\s*\{)");
	std::smatch om;
	if (!std::regex_search(text, om, ops)) {
		kn.problems.push_back("no genl_ops table");
		return kn;
	}
	for (const auto &item : split_top(braced(text, om.position() + om.length() - 1))) {
		if (!item.starts_with("{"))
			continue;
		auto f = designated(item.substr(1, item.size() - 2));
		KernelOp op;
		op.policy = f.count("policy") ? f["policy"] : "";
		op.admin = f.count("flags") && f["flags"].find("GENL_ADMIN_PERM") != std::string::npos;
		op.doit = f.count("doit");
		op.dumpit = f.count("dumpit");
		if (op.policy != "" && (!f.count("maxattr") ||
					f["maxattr"] != "ARRAY_SIZE(" + op.policy + ") - 1"))
			kn.problems.push_back(f["cmd"] + ": maxattr is not ARRAY_SIZE(policy) - 1");
		kn.ops[f["cmd"]] = op;
	}
	return kn;
}

// What the YAML promises, per attribute set and attribute.
struct Spec {
	std::map<std::string, std::string> prefix;				// set -> C prefix
	std::map<std::string, std::map<std::string, Check>> sets;		// set -> attr -> check
	std::map<std::string, long long> consts;
};

Spec parse_spec(const YAML::Node &y)
{
	Spec s;
	const auto fam = y["name"].as<std::string>();
	std::map<std::string, std::pair<long long, long long>> enum_range;
	std::map<std::string, long long> flags_mask;
	for (const auto &d : y["definitions"]) {
		auto name = d["name"].as<std::string>();
		auto type = d["type"].as<std::string>();
		if (type == "const") {
			s.consts[name] = d["value"].as<long long>();
			continue;
		}
		long long n = static_cast<long long>(d["entries"].size());
		long long start = d["value-start"] ? d["value-start"].as<long long>() : 0;
		if (type == "flags")
			flags_mask[name] = (1LL << n) - 1;
		else
			enum_range[name] = {start, start + n - 1};
	}
	auto limit = [&](const YAML::Node &n) -> long long {
		auto v = n.as<std::string>();
		if (std::isdigit(static_cast<unsigned char>(v[0])))
			return std::stoll(v);
		return s.consts.at(v);
	};
	for (const auto &set : y["attribute-sets"]) {
		auto sname = set["name"].as<std::string>();
		s.prefix[sname] = c_upper(set["name-prefix"].as<std::string>());
		for (const auto &a : set["attributes"]) {
			Check c;
			c.type = a["type"].as<std::string>();
			if (a["nested-attributes"])
				c.nested = a["nested-attributes"].as<std::string>();
			if (auto ch = a["checks"]) {
				if (ch["min"])
					c.min = limit(ch["min"]);
				if (ch["max"])
					c.max = limit(ch["max"]);
				if (ch["max-len"])
					c.max_len = limit(ch["max-len"]);
			}
			if (a["enum"]) {
				auto en = a["enum"].as<std::string>();
				if (a["enum-as-flags"] && a["enum-as-flags"].as<bool>()) {
					c.mask = flags_mask.at(en);
				} else {
					auto [lo, hi] = enum_range.at(en);
					if (!c.min && lo != 0)
						c.min = lo;
					if (!c.max)
						c.max = hi;
				}
			}
			if (c.min && *c.min == 0)
				c.min.reset();
			s.sets[sname][a["name"].as<std::string>()] = c;
		}
	}
	(void)fam;
	return s;
}

bool same(const Check &k, const Check &y)
{
	return k.type == y.type && k.min == y.min && k.max == y.max && k.mask == y.mask &&
	       k.max_len == y.max_len;
}

// Every disagreement between the kernel's tables and the YAML, in words.
std::vector<std::string> compare(const Kernel &kn, const YAML::Node &y)
{
	std::vector<std::string> out = kn.problems;
	const Spec s = parse_spec(y);
	const auto op_prefix = c_upper(y["operations"]["name-prefix"].as<std::string>());

	// A kernel policy table against a whole attribute set (nests).
	auto match_set = [&](const std::string &table, const std::string &set,
			     const std::set<std::string> &only, const std::string &where,
			     auto &self, int depth) -> void {
		if (!kn.policies.count(table)) {
			out.push_back(where + ": no policy table " + table);
			return;
		}
		const auto &pol = kn.policies.at(table);
		const auto &attrs = s.sets.at(set);
		const auto &prefix = s.prefix.at(set);
		std::set<std::string> want;
		for (const auto &[name, _] : attrs)
			if (only.empty() || only.count(name))
				want.insert(name);
		for (const auto &[cname, _] : pol) {
			bool listed = false;
			for (const auto &w : want)
				listed |= prefix + c_upper(w) == cname;
			if (!listed)
				out.push_back(where + ": the kernel takes " + cname +
					      ", the YAML does not list it");
		}
		for (const auto &name : want) {
			std::string cname = prefix + c_upper(name);
			auto it = pol.find(cname);
			if (it == pol.end()) {
				out.push_back(where + ": the YAML lists " + name +
					      ", the kernel's " + table + " does not take it");
				continue;
			}
			const Check &yc = attrs.at(name);
			if (!same(it->second, yc))
				out.push_back(where + ": " + cname + " is '" + it->second.str() +
					      "' in the kernel, '" + yc.str() + "' in the YAML");
			if (yc.type == "nest" && it->second.type == "nest" && depth < 4)
				self(it->second.nested, yc.nested, {}, where + " > " + name, self,
				     depth + 1);
		}
	};

	std::set<std::string> seen;
	for (const auto &op : y["operations"]["list"]) {
		auto name = op["name"].as<std::string>();
		auto cmd = op_prefix + c_upper(name);
		if (!op["do"] && !op["dump"])
			continue; /* notifications: no operation to call */
		seen.insert(cmd);
		if (!kn.ops.count(cmd)) {
			out.push_back(name + ": no genl_ops entry " + cmd);
			continue;
		}
		const KernelOp &k = kn.ops.at(cmd);
		bool admin = false;
		for (const auto &f : op["flags"])
			admin |= f.as<std::string>() == "admin-perm";
		if (admin != k.admin)
			out.push_back(name + ": admin-perm " + (admin ? "in the YAML only" : "in the kernel only"));
		if (bool(op["do"]) != k.doit || bool(op["dump"]) != k.dumpit)
			out.push_back(name + ": do/dump differ");
		std::set<std::string> req;
		for (auto mode : {"do", "dump"})
			if (op[mode] && op[mode].IsMap() && op[mode]["request"])
				for (const auto &a : op[mode]["request"]["attributes"])
					req.insert(a.as<std::string>());
		if (req.empty()) {
			if (!k.policy.empty())
				out.push_back(name + ": the kernel has a policy, the YAML no request attributes");
			continue;
		}
		if (k.policy.empty()) {
			out.push_back(name + ": the YAML lists request attributes, the kernel has no policy");
			continue;
		}
		match_set(k.policy, op["attribute-set"].as<std::string>(), req, name, match_set, 0);
	}
	for (const auto &[cmd, _] : kn.ops)
		if (!seen.count(cmd))
			out.push_back(cmd + " is in the kernel, not among the YAML's operations");
	return out;
}

std::string joined(const std::vector<std::string> &v)
{
	std::string s;
	for (const auto &l : v)
		s += "  " + l + "\n";
	return s;
}

class KtlsaccelPolicy : public testing::Test {
protected:
	void SetUp() override
	{
		source = slurp("kmod/netlink.c");
		spec = YAML::LoadFile(std::string(KTLSACCEL_SOURCE_DIR) + "/uapi/linux/ktlsaccel.yaml");
	}
	std::string source;
	YAML::Node spec;
};

} // namespace

TEST_F(KtlsaccelPolicy, KernelPoliciesAreWhatTheYamlPromises)
{
	Kernel kn = parse_kernel(source);
	ASSERT_GE(kn.policies.size(), 4u) << "nla_policy tables not found in kmod/netlink.c";
	ASSERT_GE(kn.ops.size(), 7u) << "genl_ops not found in kmod/netlink.c";
	auto diff = compare(kn, spec);
	EXPECT_TRUE(diff.empty()) << "kmod/netlink.c and uapi/linux/ktlsaccel.yaml disagree:\n"
				  << joined(diff);
}

TEST_F(KtlsaccelPolicy, EveryLimitOfTheUapiIsEnforcedByAPolicy)
{
	/* What the header's prose promises, spelled out: the parser must see it. */
	Kernel kn = parse_kernel(source);
	ASSERT_TRUE(kn.policies.count("dev_set_policy"));
	const auto &dev = kn.policies.at("dev_set_policy");
	auto at = [&](const std::map<std::string, Check> &p, const std::string &a) {
		auto it = p.find(a);
		return it == p.end() ? std::string("absent") : it->second.str();
	};
	EXPECT_EQ(at(dev, "KTLSACCEL_A_DEV_QUEUES"), "u32 min 1 max 256");
	EXPECT_EQ(at(dev, "KTLSACCEL_A_DEV_DEPTH"), "u32 min 1 max 65536");
	EXPECT_EQ(at(dev, "KTLSACCEL_A_DEV_LATENCY_US"), "u32 max 10000000");
	EXPECT_EQ(at(dev, "KTLSACCEL_A_DEV_DISPATCH"), "u32 max 1");
	EXPECT_EQ(at(dev, "KTLSACCEL_A_DEV_DECRYPT"), "u32 max 1");
	EXPECT_EQ(at(dev, "KTLSACCEL_A_DEV_INLINE"), "u32 max 1");
	ASSERT_TRUE(kn.policies.count("stats_reset_policy"));
	EXPECT_EQ(at(kn.policies.at("stats_reset_policy"), "KTLSACCEL_A_DEV_RESET"), "u32 mask 3");
	ASSERT_TRUE(kn.policies.count("fault_policy"));
	const auto &fault = kn.policies.at("fault_policy");
	EXPECT_EQ(at(fault, "KTLSACCEL_A_FAULT_RATE"), "u32 max 1000000");
	EXPECT_EQ(at(fault, "KTLSACCEL_A_FAULT_OPS"), "u32 min 1 max 3");
	EXPECT_EQ(at(fault, "KTLSACCEL_A_FAULT_DELAY_US"), "u32 max 10000000");
	EXPECT_EQ(at(fault, "KTLSACCEL_A_FAULT_STALL_QUEUE"), "u32 max 255");
	ASSERT_TRUE(kn.policies.count("backend_policy"));
	const auto &backend = kn.policies.at("backend_policy");
	EXPECT_EQ(at(backend, "KTLSACCEL_A_BACKEND_ALG"), "string max-len 127");
	EXPECT_EQ(at(backend, "KTLSACCEL_A_BACKEND_MODE"), "u32 max 2");
	EXPECT_EQ(at(backend, "KTLSACCEL_A_BACKEND_DRIVER"), "string max-len 127");
}

// The comparison can fail: each of these edits of the real netlink.c is a
// disagreement it must report.
TEST_F(KtlsaccelPolicy, ADisagreementIsReported)
{
	const std::vector<std::pair<std::string, std::string>> edits = {
		{"NLA_POLICY_RANGE(NLA_U32, 1, KTLSACCEL_MAX_QUEUES)",
		 "NLA_POLICY_RANGE(NLA_U32, 1, KTLSACCEL_MAX_QUEUES - 1)"},
		{"NLA_POLICY_MASK(NLA_U32, KTLSACCEL_RESET_ALL)", "{ .type = NLA_U32 }"},
		{"NLA_POLICY_MAX(NLA_U32, KTLSACCEL_INLINE_NEVER)", "{ .type = NLA_U32 }"},
		{"[KTLSACCEL_A_DEV_BACKEND]", "[KTLSACCEL_A_DEV_FLOWS] = { .type = NLA_U32 },\n"
					      "[KTLSACCEL_A_DEV_BACKEND]"},
		{".len = CRYPTO_MAX_ALG_NAME - 1,\n\t},\n\t[KTLSACCEL_A_BACKEND_MODE]",
		 ".len = CRYPTO_MAX_ALG_NAME,\n\t},\n\t[KTLSACCEL_A_BACKEND_MODE]"},
		{".max = KTLSACCEL_FAULT_RATE_SCALE", ".max = KTLSACCEL_FAULT_RATE_SCALE + 1"},
		{"\t.flags = GENL_ADMIN_PERM,\n\t},\n\t{\n\t\t.cmd = KTLSACCEL_CMD_QUEUE_GET", "\t},\n\t{\n\t\t.cmd = KTLSACCEL_CMD_QUEUE_GET"},
	};
	for (const auto &[from, to] : edits) {
		auto pos = source.find(from);
		ASSERT_NE(pos, std::string::npos) << "kmod/netlink.c no longer has: " << from;
		std::string edited = source;
		edited.replace(pos, from.size(), to);
		EXPECT_FALSE(compare(parse_kernel(edited), spec).empty())
			<< "not reported: " << from << " -> " << to;
	}
	YAML::Node y = YAML::Clone(spec);
	for (auto set : y["attribute-sets"])
		if (set["name"].as<std::string>() == "dev")
			for (auto a : set["attributes"])
				if (a["name"].as<std::string>() == "depth")
					a["checks"]["max"] = 65535;
	EXPECT_FALSE(compare(parse_kernel(source), y).empty()) << "a YAML-side change not reported";
}

#else

TEST(KtlsaccelPolicy, NeedsYamlCpp)
{
	GTEST_SKIP() << "built without yaml-cpp (apt-get install libyaml-cpp-dev)";
}

#endif
