/* SPDX-License-Identifier: MIT */
/*
 * Status-code and exit-kind names, and the library version.
 */
#include "paravisor/error.h"
#include "paravisor/exit.h"
#include "paravisor/version.h"

const char *pv_strerror(pv_err_t err)
{
	switch (err) {
	case PV_OK:
		return "success";
	case PV_EINVAL:
		return "invalid argument";
	case PV_ENOMEM:
		return "out of memory";
	case PV_ERANGE:
		return "address or length out of range";
	case PV_EACCES:
		return "access denied by page state";
	case PV_EEXIST:
		return "already exists or overlaps";
	case PV_ENOENT:
		return "no such object";
	case PV_ENOTSUP:
		return "not supported";
	case PV_EBUSY:
		return "busy or queue full";
	case PV_ESTATE:
		return "wrong state for this operation";
	case PV_EBADMSG:
		return "malformed input";
	case PV_EPORT:
		return "port operation failed";
	case PV_EIO:
		return "backend I/O error";
	case PV_ETIMEDOUT:
		return "timed out";
	case PV_EFAULT:
		return "address not backed by RAM";
	case PV_EFAULTINJ:
		return "fault must be injected into the guest";
	case PV_EINTR:
		return "interrupted by a stop request";
	case PV_EVERSION:
		return "saved record has a bad version or content";
	default:
		return "unknown error";
	}
}

const char *pv_exit_kind_name(enum pv_exit_kind kind)
{
	static const char *const names[PV_EXIT_KIND_COUNT] = {
		[PV_EXIT_NONE] = "none",
		[PV_EXIT_IO] = "io",
		[PV_EXIT_MMIO] = "mmio",
		[PV_EXIT_MSR_READ] = "msr_read",
		[PV_EXIT_MSR_WRITE] = "msr_write",
		[PV_EXIT_CPUID] = "cpuid",
		[PV_EXIT_HYPERCALL] = "hypercall",
		[PV_EXIT_HLT] = "hlt",
		[PV_EXIT_SHUTDOWN] = "shutdown",
		[PV_EXIT_INTERRUPT_WINDOW] = "interrupt_window",
		[PV_EXIT_STOPPED] = "stopped",
		[PV_EXIT_INTERNAL_ERROR] = "internal_error",
		[PV_EXIT_PORT_SPECIFIC] = "port_specific",
	};
	if ((unsigned)kind >= PV_EXIT_KIND_COUNT)
		return "unknown";
	return names[kind];
}

const char *pv_version(void)
{
	return PV_VERSION_STRING;
}
