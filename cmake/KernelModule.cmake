# SPDX-License-Identifier: MIT
#
# Build out-of-tree kernel modules through Kbuild, once per kernel.
#
# ktlsaccel_find_kernels(<var>)
#   Sets <var> to the kernel versions to build for: KTLSACCEL_KERNELS if the
#   user gave it (-DKTLSACCEL_KERNELS="6.1.0-56-amd64;..."), otherwise the
#   newest /lib/modules/<version>/build of each series (6.1, 6.12,
#   6.12-rt: see ktlsaccel_kernel_short) that holds a kernel build tree,
#   plus the debug kernel if KTLSACCEL_TEST_DEBUG_KERNEL is ON.
#
# ktlsaccel_kernel_short(<var> <release>)
#   Sets <var> to the kernel's short name, the one in ctest labels
#   (kernel-<short>) and in scripts/vm-run --kernel: "6.12" for
#   6.12.118+deb12-amd64, "6.12-rt" for a PREEMPT_RT kernel
#   (6.12.118+deb12-rt-amd64, 6.1.0-57-rt-amd64, 6.12.0-rt5), "debug" for
#   scripts/build-debug-kernel's. scripts/vm-run applies the same rule.
#
# ktlsaccel_add_kmod(<name> <source-dir>)
#   For each kernel version V, copies <source-dir> into
#   ${CMAKE_BINARY_DIR}/kmod/V/<name>/ and runs Kbuild there, producing
#   ${CMAKE_BINARY_DIR}/kmod/V/<name>.ko. Adds the target <name>-kmod that
#   builds them all (part of ALL).

set(KTLSACCEL_KERNEL_MODULES_DIR "/lib/modules" CACHE PATH
	"Where the kernels' module trees (<version>/build) live")
option(KTLSACCEL_TEST_DEBUG_KERNEL
	"Also build for, and test on, scripts/build-debug-kernel's kernel (hours)" OFF)

function(ktlsaccel_kernel_short out release)
	if(release MATCHES "-ktlsaccel-debug$")
		set(${out} debug PARENT_SCOPE)
		return()
	endif()
	string(REGEX MATCH "^[0-9]+\\.[0-9]+" short "${release}")
	# Debian names its PREEMPT_RT flavour -rt-<arch>; upstream's
	# localversion is -rt<N>. Sleeping spinlocks and threaded softirqs make
	# it a kernel of its own, never an older or newer generic one.
	if(release MATCHES "-rt[0-9]*(-|$)")
		string(APPEND short "-rt")
	endif()
	set(${out} "${short}" PARENT_SCOPE)
endfunction()

function(ktlsaccel_find_kernels out)
	if(DEFINED KTLSACCEL_KERNELS AND NOT "${KTLSACCEL_KERNELS}" STREQUAL "")
		foreach(v IN LISTS KTLSACCEL_KERNELS)
			if(NOT EXISTS "${KTLSACCEL_KERNEL_MODULES_DIR}/${v}/build/Makefile")
				message(FATAL_ERROR
					"ktlsaccel: KTLSACCEL_KERNELS names ${v}, but "
					"${KTLSACCEL_KERNEL_MODULES_DIR}/${v}/build has no kernel "
					"build tree. Install linux-headers-${v} or drop it from the list.")
			endif()
		endforeach()
		set(${out} ${KTLSACCEL_KERNELS} PARENT_SCOPE)
		return()
	endif()
	file(GLOB makefiles LIST_DIRECTORIES false
		"${KTLSACCEL_KERNEL_MODULES_DIR}/*/build/Makefile")
	set(versions "")
	foreach(mf IN LISTS makefiles)
		get_filename_component(build "${mf}" DIRECTORY)
		get_filename_component(vdir "${build}" DIRECTORY)
		get_filename_component(v "${vdir}" NAME)
		list(APPEND versions "${v}")
	endforeach()
	list(SORT versions COMPARE NATURAL)
	# Per series (6.1, 6.12, ...) only the newest release: every kernel
	# listed costs a guest boot and its whole suite, and an older ABI of
	# the same series left behind by an upgrade adds time, not coverage.
	# The PREEMPT_RT flavour is a series of its own (6.12-rt): its locking
	# differs, so neither it nor the generic 6.12 stands in for the other.
	# scripts/build-debug-kernel's kernel only with
	# KTLSACCEL_TEST_DEBUG_KERNEL=ON: its suite takes hours.
	set(newest "")
	set(skipped "")
	foreach(v IN LISTS versions)
		if(v MATCHES "-ktlsaccel-debug$")
			if(KTLSACCEL_TEST_DEBUG_KERNEL)
				list(APPEND newest "${v}")
			else()
				list(APPEND skipped "${v} (debug kernel: -DKTLSACCEL_TEST_DEBUG_KERNEL=ON)")
			endif()
			continue()
		endif()
		ktlsaccel_kernel_short(series "${v}")
		foreach(w IN LISTS newest)
			ktlsaccel_kernel_short(wseries "${w}")
			if(wseries STREQUAL series)
				# versions is sorted, so v is newer than w.
				list(REMOVE_ITEM newest "${w}")
				list(APPEND skipped "${w} (older than ${v})")
			endif()
		endforeach()
		list(APPEND newest "${v}")
	endforeach()
	foreach(s IN LISTS skipped)
		message(STATUS "ktlsaccel: not building for ${s}")
	endforeach()
	set(versions ${newest})
	if(versions STREQUAL "")
		message(WARNING
			"ktlsaccel: no kernel headers found under "
			"${KTLSACCEL_KERNEL_MODULES_DIR}/*/build, so the kernel module "
			"will not be built (the userspace parts still are).\n"
			"Fix: run 'sudo scripts/install-deps.sh' (or install "
			"linux-headers-$(uname -r)) and configure again, or point "
			"-DKTLSACCEL_KERNELS=<version;...> at kernels that have headers.")
	else()
		message(STATUS "ktlsaccel: building the kernel module for: ${versions}")
	endif()
	set(${out} ${versions} PARENT_SCOPE)
endfunction()

function(ktlsaccel_add_kmod name srcdir)
	if(NOT EXISTS "${srcdir}/Kbuild")
		message(STATUS "ktlsaccel: ${srcdir} has no Kbuild file yet; skipping ${name}.ko")
		return()
	endif()
	file(GLOB uapi_headers CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/uapi/linux/*.h")
	file(GLOB_RECURSE sources CONFIGURE_DEPENDS
		RELATIVE "${srcdir}"
		"${srcdir}/*.c" "${srcdir}/*.h" "${srcdir}/Kbuild" "${srcdir}/Makefile")
	set(all_outputs "")
	foreach(kver IN LISTS KTLSACCEL_KERNELS)
		set(kdir "${KTLSACCEL_KERNEL_MODULES_DIR}/${kver}/build")
		set(objdir "${CMAKE_BINARY_DIR}/kmod/${kver}/${name}")
		set(ko "${CMAKE_BINARY_DIR}/kmod/${kver}/${name}.ko")
		set(copy_cmds "")
		set(deps "")
		foreach(f IN LISTS sources)
			list(APPEND copy_cmds COMMAND ${CMAKE_COMMAND} -E copy_if_different
				"${srcdir}/${f}" "${objdir}/${f}")
			list(APPEND deps "${srcdir}/${f}")
		endforeach()
		add_custom_command(
			OUTPUT "${ko}"
			COMMAND ${CMAKE_COMMAND} -E make_directory "${objdir}"
			${copy_cmds}
			COMMAND make -C "${kdir}" M=${objdir}
				KTLSACCEL_UAPI=${PROJECT_SOURCE_DIR}/uapi modules
			COMMAND ${CMAKE_COMMAND} -E copy "${objdir}/${name}.ko" "${ko}"
			DEPENDS ${deps} ${uapi_headers}
			COMMENT "Kbuild: ${name}.ko for ${kver}"
			VERBATIM)
		list(APPEND all_outputs "${ko}")
	endforeach()
	add_custom_target(${name}-kmod ALL DEPENDS ${all_outputs})

	# checkpatch and sparse must stay quiet (label lint, no VM needed).
	add_test(NAME lint:checkpatch:${name}
		COMMAND ${PROJECT_SOURCE_DIR}/scripts/lint-kernel checkpatch "${srcdir}")
	set_tests_properties(lint:checkpatch:${name} PROPERTIES LABELS lint)
	foreach(kver IN LISTS KTLSACCEL_KERNELS)
		add_test(NAME lint:sparse[${kver}]:${name}
			COMMAND ${PROJECT_SOURCE_DIR}/scripts/lint-kernel sparse ${kver} "${srcdir}"
				"${CMAKE_BINARY_DIR}/kmod-sparse/${kver}/${name}"
				KTLSACCEL_UAPI=${PROJECT_SOURCE_DIR}/uapi)
		set_tests_properties(lint:sparse[${kver}]:${name} PROPERTIES LABELS lint)
	endforeach()
endfunction()
