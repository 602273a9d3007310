# SPDX-License-Identifier: MIT
#
# The netlink control client (ktlsaccel/control.hpp), for whoever builds
# libktlsaccel: add ${KTLSACCEL_CONTROL_SOURCES} to the library, link
# ${KTLSACCEL_CONTROL_LIBS}, and put ${KTLSACCEL_CONTROL_INCLUDE_DIRS} on its
# (private) include path for <linux/ktlsaccel.h>.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBNL_GENL REQUIRED IMPORTED_TARGET libnl-genl-3.0)

set(KTLSACCEL_CONTROL_SOURCES
	${CMAKE_CURRENT_LIST_DIR}/src/control.cpp
	${CMAKE_CURRENT_LIST_DIR}/src/control_msg.cpp)
set(KTLSACCEL_CONTROL_LIBS PkgConfig::LIBNL_GENL)
set(KTLSACCEL_CONTROL_INCLUDE_DIRS
	${CMAKE_CURRENT_LIST_DIR}/include
	${CMAKE_CURRENT_LIST_DIR}/src
	${CMAKE_CURRENT_LIST_DIR}/../uapi)
