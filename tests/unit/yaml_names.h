/* SPDX-License-Identifier: MIT */
/*
 * Attribute names of uapi/linux/ktlsaccel.yaml, for the tests that check
 * JSON keys against them. Reads the YAML with yaml-cpp when the build has
 * it; without it, returns nullopt and the caller skips.
 */
#pragma once

#include <optional>
#include <set>
#include <string>

#ifdef KTLSACCEL_HAVE_YAML_CPP
#include <yaml-cpp/yaml.h>
#endif

namespace ktlsaccel::testfix {

struct YamlNames {
	std::set<std::string> attributes;	// every attribute of every set
	std::set<std::string> sets;		// "dev", "queue", ...
};

inline std::optional<YamlNames> yaml_names()
{
#ifdef KTLSACCEL_HAVE_YAML_CPP
	YAML::Node spec = YAML::LoadFile(std::string(KTLSACCEL_SOURCE_DIR) +
					 "/uapi/linux/ktlsaccel.yaml");
	YamlNames n;
	for (const auto &set : spec["attribute-sets"]) {
		n.sets.insert(set["name"].as<std::string>());
		for (const auto &a : set["attributes"])
			n.attributes.insert(a["name"].as<std::string>());
	}
	return n;
#else
	return std::nullopt;
#endif
}

} // namespace ktlsaccel::testfix
