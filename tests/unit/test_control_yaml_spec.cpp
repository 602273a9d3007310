// SPDX-License-Identifier: MIT
//
// KtlsaccelYamlSpec: uapi/linux/ktlsaccel.yaml and uapi/linux/ktlsaccel.h
// describe the same family. The C names the kernel's YAML code generator
// would derive from the spec (constants, enums, flags, attribute sets,
// commands, the multicast group) are exactly the header's, with the same
// values, in both directions; and the spec is consistent with itself
// (nested sets, enums and the attributes operations name exist).

#include <gtest/gtest.h>

#ifdef KTLSACCEL_HAVE_YAML_CPP

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

std::string source(const std::string &rel)
{
	return std::string(KTLSACCEL_SOURCE_DIR) + "/" + rel;
}

// "ktlsaccel-a-stats-" + "in-flight" -> "KTLSACCEL_A_STATS_IN_FLIGHT"
std::string c_upper(std::string s)
{
	for (auto &c : s)
		c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
	return s;
}

struct Header {
	std::map<std::string, long long> enumerators;	// every enum entry
	std::map<std::string, std::string> defines;	// name -> replacement text
	std::set<std::string> enum_tags;		// "ktlsaccel_dispatch", ...
};

long long eval(const std::string &expr, const std::map<std::string, long long> &known)
{
	static const std::regex shift(R"(^\s*(\d+)\s*<<\s*(\d+)\s*$)");
	static const std::regex num(R"(^\s*(\d+)\s*$)");
	static const std::regex minus(R"(^\s*(\w+)\s*-\s*(\d+)\s*$)");
	std::smatch m;
	if (std::regex_match(expr, m, shift))
		return std::stoll(m[1]) << std::stoll(m[2]);
	if (std::regex_match(expr, m, minus) && known.count(m[1]))
		return known.at(m[1]) - std::stoll(m[2]);
	if (std::regex_match(expr, m, num))
		return std::stoll(m[1]);
	std::string name = std::regex_replace(expr, std::regex(R"(\s)"), "");
	if (known.count(name))
		return known.at(name);
	ADD_FAILURE() << "cannot evaluate '" << expr << "'";
	return -1;
}

// "(A | B | 1 << 2)": the OR of terms eval() understands.
long long eval_or(const std::string &expr, const std::map<std::string, long long> &known)
{
	std::string body = expr;
	while (body.size() >= 2 && body.front() == '(' && body.back() == ')')
		body = body.substr(1, body.size() - 2);
	if (body.find_first_of("()") != body.npos) {
		ADD_FAILURE() << "cannot evaluate '" << expr << "'";
		return -1;
	}
	long long v = 0;
	std::stringstream terms(body);
	for (std::string term; std::getline(terms, term, '|');)
		v |= eval(term, known);
	return v;
}

Header parse_header()
{
	std::ifstream in(source("uapi/linux/ktlsaccel.h"));
	std::stringstream ss;
	ss << in.rdbuf();
	std::string text = ss.str();
	text = std::regex_replace(text, std::regex(R"(/\*[\s\S]*?\*/)"), " ");

	Header h;
	static const std::regex def(R"(#define\s+(\w+)[ \t]*([^\n]*))");
	for (std::sregex_iterator it(text.begin(), text.end(), def), end; it != end; ++it)
		h.defines[(*it)[1]] = std::regex_replace((*it)[2].str(), std::regex(R"(^\s+|\s+$)"), "");

	static const std::regex en(R"(enum\s*(\w*)\s*\{([^}]*)\})");
	for (std::sregex_iterator it(text.begin(), text.end(), en), end; it != end; ++it) {
		if ((*it)[1].length())
			h.enum_tags.insert((*it)[1]);
		std::string body = (*it)[2];
		long long next = 0;
		std::stringstream items(body);
		for (std::string item; std::getline(items, item, ',');) {
			item = std::regex_replace(item, std::regex(R"(^\s+|\s+$)"), "");
			if (item.empty())
				continue;
			auto eq = item.find('=');
			std::string name = std::regex_replace(item.substr(0, eq), std::regex(R"(\s)"), "");
			long long v = eq == item.npos ? next : eval(item.substr(eq + 1), h.enumerators);
			h.enumerators[name] = v;
			next = v + 1;
		}
	}
	return h;
}

// What the header must hold for the spec: C name -> value.
struct Expected {
	std::map<std::string, long long> enumerators;
	std::map<std::string, long long> constants;
	std::set<std::string> enum_tags;
};

Expected from_yaml(const YAML::Node &spec)
{
	Expected e;
	const std::string fam = spec["name"].as<std::string>();
	for (const auto &d : spec["definitions"]) {
		auto type = d["type"].as<std::string>();
		auto name = d["name"].as<std::string>();
		if (type == "const") {
			e.constants[c_upper(fam + "-" + name)] = d["value"].as<long long>();
			continue;
		}
		e.enum_tags.insert(fam + "_" + std::regex_replace(name, std::regex("-"), "_"));
		long long v = d["value-start"] ? d["value-start"].as<long long>() : 0;
		int bit = 0;
		for (const auto &entry : d["entries"]) {
			auto ename = entry.IsMap() ? entry["name"].as<std::string>()
						   : entry.as<std::string>();
			/* name-prefix replaces "<family>-<enum>-", as in the kernel's specs */
			std::string prefix = d["name-prefix"] ? d["name-prefix"].as<std::string>()
							       : fam + "-" + name + "-";
			std::string c = c_upper(prefix + ename);
			e.enumerators[c] = type == "flags" ? (1LL << bit++) : v++;
		}
	}
	for (const auto &set : spec["attribute-sets"]) {
		auto prefix = set["name-prefix"].as<std::string>();
		long long v = 1;
		for (const auto &a : set["attributes"]) {
			if (a["value"])
				v = a["value"].as<long long>();
			e.enumerators[c_upper(prefix + a["name"].as<std::string>())] = v++;
		}
	}
	auto ops = spec["operations"];
	auto op_prefix = ops["name-prefix"].as<std::string>();
	long long v = 1;
	for (const auto &op : ops["list"]) {
		if (op["value"])
			v = op["value"].as<long long>();
		e.enumerators[c_upper(op_prefix + op["name"].as<std::string>())] = v++;
	}
	return e;
}

bool is_bookkeeping(const std::string &name)
{
	/* UNSPEC (0) and the MAX markers are C conventions, not spec entries. */
	return name.ends_with("_UNSPEC") || name.ends_with("_MAX") || name.starts_with("__");
}

class KtlsaccelYamlSpec : public testing::Test {
protected:
	void SetUp() override
	{
		spec = YAML::LoadFile(source("uapi/linux/ktlsaccel.yaml"));
		header = parse_header();
		expected = from_yaml(spec);
	}
	YAML::Node spec;
	Header header;
	Expected expected;
};

} // namespace

TEST_F(KtlsaccelYamlSpec, EveryYamlEnumeratorIsInTheHeaderWithItsValue)
{
	ASSERT_GT(expected.enumerators.size(), 50u);
	for (const auto &[name, value] : expected.enumerators) {
		auto it = header.enumerators.find(name);
		ASSERT_NE(it, header.enumerators.end()) << name << " is in the YAML, not the header";
		EXPECT_EQ(it->second, value) << name;
	}
}

TEST_F(KtlsaccelYamlSpec, EveryHeaderEnumeratorIsInTheYaml)
{
	for (const auto &[name, value] : header.enumerators) {
		if (is_bookkeeping(name))
			continue;
		EXPECT_TRUE(expected.enumerators.count(name))
			<< name << " = " << value << " is in the header, not the YAML";
	}
}

TEST_F(KtlsaccelYamlSpec, UnspecIsZeroAndMaxIsTheLastEntry)
{
	for (const auto &[name, value] : header.enumerators) {
		if (name.ends_with("_UNSPEC")) {
			EXPECT_EQ(value, 0) << name;
		}
		if (name.starts_with("__") && name.ends_with("_MAX")) {
			std::string max = name.substr(2);
			ASSERT_TRUE(header.enumerators.count(max)) << max;
			EXPECT_EQ(header.enumerators.at(max), value - 1) << max;
		}
	}
}

TEST_F(KtlsaccelYamlSpec, NamedEnumsMatch)
{
	EXPECT_EQ(header.enum_tags, expected.enum_tags);
}

TEST_F(KtlsaccelYamlSpec, ConstantsMatch)
{
	for (const auto &[name, value] : expected.constants) {
		ASSERT_TRUE(header.defines.count(name)) << name;
		EXPECT_EQ(std::stoll(header.defines.at(name)), value) << name;
	}
}

TEST_F(KtlsaccelYamlSpec, FamilyNameVersionAndGroups)
{
	auto fam = spec["name"].as<std::string>();
	auto name_macro = c_upper(spec["c-family-name"].as<std::string>());
	auto version_macro = c_upper(spec["c-version-name"].as<std::string>());
	ASSERT_TRUE(header.defines.count(name_macro)) << name_macro;
	EXPECT_EQ(header.defines.at(name_macro), "\"" + fam + "\"");
	ASSERT_TRUE(header.defines.count(version_macro)) << version_macro;
	EXPECT_GE(std::stoll(header.defines.at(version_macro)), 1);
	EXPECT_EQ(spec["uapi-header"].as<std::string>(), "linux/ktlsaccel.h");

	std::set<std::string> groups;
	for (const auto &g : spec["mcast-groups"]["list"]) {
		auto gname = g["name"].as<std::string>();
		auto macro = c_upper(fam + "-mcgrp-" + gname);
		groups.insert(macro);
		ASSERT_TRUE(header.defines.count(macro)) << macro;
		EXPECT_EQ(header.defines.at(macro), "\"" + gname + "\"");
	}
	for (const auto &[name, _] : header.defines) {
		if (name.find("_MCGRP_") != name.npos) {
			EXPECT_TRUE(groups.count(name)) << name << " is in the header, not the YAML";
		}
	}
}

TEST_F(KtlsaccelYamlSpec, EveryHeaderDefineIsAccountedFor)
{
	std::set<std::string> known = {"_UAPI_LINUX_KTLSACCEL_H",
				       c_upper(spec["c-family-name"].as<std::string>()),
				       c_upper(spec["c-version-name"].as<std::string>())};
	for (const auto &[n, _] : expected.constants)
		known.insert(n);
	for (const auto &[name, text] : header.defines) {
		if (known.count(name) || name.find("_MCGRP_") != name.npos)
			continue;
		/* KTLSACCEL_RESET_ALL: the OR of every reset flag of the YAML,
		 * evaluated from the #define's own text. */
		if (name == "KTLSACCEL_RESET_ALL") {
			long long all = 0;
			int flags = 0;
			for (const auto &[n, v] : expected.enumerators) {
				if (n.starts_with("KTLSACCEL_RESET_")) {
					all |= v;
					flags++;
				}
			}
			EXPECT_GE(flags, 2) << "the YAML's reset flags";
			EXPECT_EQ(eval_or(text, header.enumerators), all) << "#define " << name << " " << text;
			continue;
		}
		ADD_FAILURE() << "#define " << name << " " << text << " has no YAML counterpart";
	}
}

TEST_F(KtlsaccelYamlSpec, SpecReferencesResolve)
{
	std::map<std::string, std::set<std::string>> sets;
	for (const auto &set : spec["attribute-sets"])
		for (const auto &a : set["attributes"])
			sets[set["name"].as<std::string>()].insert(a["name"].as<std::string>());
	std::set<std::string> defs;
	for (const auto &d : spec["definitions"])
		defs.insert(d["name"].as<std::string>());

	for (const auto &set : spec["attribute-sets"]) {
		for (const auto &a : set["attributes"]) {
			auto what = set["name"].as<std::string>() + "." + a["name"].as<std::string>();
			if (a["nested-attributes"]) {
				EXPECT_TRUE(sets.count(a["nested-attributes"].as<std::string>())) << what;
			}
			if (a["enum"]) {
				EXPECT_TRUE(defs.count(a["enum"].as<std::string>())) << what;
			}
			if (!a["checks"])
				continue;
			for (auto check : {"min", "max"}) {
				auto c = a["checks"][check];
				if (c && !std::isdigit(static_cast<unsigned char>(c.as<std::string>()[0]))) {
					EXPECT_TRUE(defs.count(c.as<std::string>())) << what;
				}
			}
		}
	}
	std::set<std::string> ops;
	for (const auto &op : spec["operations"]["list"])
		ops.insert(op["name"].as<std::string>());
	for (const auto &op : spec["operations"]["list"]) {
		auto name = op["name"].as<std::string>();
		auto set = op["attribute-set"].as<std::string>();
		ASSERT_TRUE(sets.count(set)) << name;
		for (auto mode : {"do", "dump"}) {
			if (!op[mode] || !op[mode].IsMap())
				continue;
			for (auto part : {"request", "reply"}) {
				if (!op[mode][part] || !op[mode][part]["attributes"])
					continue;
				for (const auto &a : op[mode][part]["attributes"]) {
					EXPECT_TRUE(sets[set].count(a.as<std::string>()))
						<< name << " " << mode << " " << part << ": "
						<< a.as<std::string>();
				}
			}
		}
		if (op["notify"]) {
			EXPECT_TRUE(ops.count(op["notify"].as<std::string>())) << name;
		}
	}
}

#else

TEST(KtlsaccelYamlSpec, NeedsYamlCpp)
{
	GTEST_SKIP() << "built without yaml-cpp (apt-get install libyaml-cpp-dev)";
}

#endif
