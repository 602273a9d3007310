# SPDX-License-Identifier: MIT
#
# CPACK_PRE_BUILD_SCRIPTS: runs on CPack's staging tree before the .deb
# files are made. Does what debhelper would: man pages gzip -9n
# (dh_compress), no .comment/.note sections in binaries (dh_strip).
if(NOT CPACK_TEMPORARY_INSTALL_DIRECTORY)
	message(FATAL_ERROR "deb-prebuild: CPACK_TEMPORARY_INSTALL_DIRECTORY is not set")
endif()
set(stage "${CPACK_TEMPORARY_INSTALL_DIRECTORY}")

file(GLOB_RECURSE man_pages LIST_DIRECTORIES false "${stage}/*/share/man/man*/*")
foreach(page IN LISTS man_pages)
	if(page MATCHES "\\.gz$")
		continue()
	endif()
	execute_process(COMMAND gzip -9nf "${page}" COMMAND_ERROR_IS_FATAL ANY)
endforeach()

file(GLOB_RECURSE candidates LIST_DIRECTORIES false
	"${stage}/*/bin/*" "${stage}/*/sbin/*" "${stage}/*/lib/*.so.*")
foreach(f IN LISTS candidates)
	if(IS_SYMLINK "${f}")
		continue()
	endif()
	execute_process(COMMAND strip --remove-section=.comment --remove-section=.note "${f}"
		COMMAND_ERROR_IS_FATAL ANY)
endforeach()
