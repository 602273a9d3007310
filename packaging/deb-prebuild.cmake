# SPDX-License-Identifier: MIT
#
# CPACK_PRE_BUILD_SCRIPTS: runs on CPack's staging tree before the .deb
# files are made. Does what debhelper would: man pages gzip -9n
# (dh_compress), no .comment/.note sections in binaries (dh_strip).
if(NOT CPACK_TEMPORARY_INSTALL_DIRECTORY)
	message(FATAL_ERROR "deb-prebuild: CPACK_TEMPORARY_INSTALL_DIRECTORY is not set")
endif()
file(GLOB_RECURSE files LIST_DIRECTORIES false "${CPACK_TEMPORARY_INSTALL_DIRECTORY}/*")
foreach(f IN LISTS files)
	if(IS_SYMLINK "${f}")
		continue()
	elseif(f MATCHES "/share/man/man[1-9]/[^/]+\\.[1-9]$")
		execute_process(COMMAND gzip -9nf "${f}" COMMAND_ERROR_IS_FATAL ANY)
	elseif(f MATCHES "/s?bin/[^/]+$|/lib/.*\\.so\\.[0-9.]+$")
		execute_process(COMMAND strip --remove-section=.comment --remove-section=.note "${f}"
			COMMAND_ERROR_IS_FATAL ANY)
	endif()
endforeach()
