# SPDX-License-Identifier: MIT
#
# libktlsaccel-control: the client of the "ktlsaccel" generic netlink family
# (ktlsaccel/control.hpp), a library of its own so that a TLS user never
# links libnl. Included from CMakeLists.txt, which defines
# ktlsaccel_private_symbols().
#
#   ktlsaccel-control-objects  OBJECT: the compiled sources, for the unit
#                              tests that call its private code (control_msg.hpp)
#   ktlsaccel-control          SHARED: libktlsaccel-control.so.N, target
#                              ktlsaccel::control (find_package(ktlsaccel
#                              COMPONENTS control), pkg-config libktlsaccel-control)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBNL_GENL REQUIRED IMPORTED_TARGET libnl-genl-3.0)

add_library(ktlsaccel-control-objects OBJECT src/control.cpp src/control_msg.cpp)
target_include_directories(ktlsaccel-control-objects
	PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
	PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/uapi)
target_compile_features(ktlsaccel-control-objects PUBLIC cxx_std_23)
# Whoever links the objects links libnl too.
target_link_libraries(ktlsaccel-control-objects PUBLIC PkgConfig::LIBNL_GENL)
ktlsaccel_private_symbols(ktlsaccel-control-objects)

add_library(ktlsaccel-control SHARED $<TARGET_OBJECTS:ktlsaccel-control-objects>)
add_library(ktlsaccel::control ALIAS ktlsaccel-control)
target_include_directories(ktlsaccel-control PUBLIC
	$<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
	$<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_compile_features(ktlsaccel-control PUBLIC cxx_std_23)
# Private: control.hpp names no libnl type but a forward-declared nl_sock.
target_link_libraries(ktlsaccel-control PRIVATE PkgConfig::LIBNL_GENL)
set_target_properties(ktlsaccel-control PROPERTIES
	VERSION ${PROJECT_VERSION}
	SOVERSION ${KTLSACCEL_CONTROL_SOVERSION}
	EXPORT_NAME control)
ktlsaccel_export_only(ktlsaccel-control KTLSACCEL_CONTROL_${KTLSACCEL_CONTROL_SOVERSION})

# control.hpp without a library to link, for static code that takes the
# client and leaves the choice to its final link: the ktlsaccel CLI's
# ktlsaccel-cli-lib, linked into the CLI with ktlsaccel::control and into
# the unit tests with ktlsaccel-control-objects (one copy of the client each).
add_library(ktlsaccel-control-headers INTERFACE)
target_include_directories(ktlsaccel-control-headers INTERFACE ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_compile_features(ktlsaccel-control-headers INTERFACE cxx_std_23)
