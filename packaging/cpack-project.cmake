# SPDX-License-Identifier: MIT
#
# CPACK_PROJECT_CONFIG_FILE: Debian packages install under /usr. A tree
# configured with another prefix would put /usr/local paths (and a
# non-multiarch library directory) into them, so refuse.
if(NOT CPACK_KTLSACCEL_CONFIGURED_PREFIX STREQUAL "/usr")
	message(FATAL_ERROR "ktlsaccel: this tree was configured with "
		"CMAKE_INSTALL_PREFIX=${CPACK_KTLSACCEL_CONFIGURED_PREFIX}; Debian "
		"packages need /usr. Use packaging/build-debs OUTDIR, or configure "
		"with -DCMAKE_INSTALL_PREFIX=/usr.")
endif()
