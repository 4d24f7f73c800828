/* SPDX-License-Identifier: MIT */
/**
 * @file memory.h
 * @brief Guest physical memory map, checked accessors and per-page state.
 *
 * All guest memory access goes through these calls. Each access names who is
 * accessing (a guest VTL, the paravisor itself, or the host) and is checked
 * for range, overflow, crossing into a non-RAM range, visibility and VTL
 * permissions. No raw pointer into guest memory escapes a call.
 */
#ifndef PARAVISOR_MEMORY_H
#define PARAVISOR_MEMORY_H

#include "paravisor/error.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief What backs a range of guest physical address space. */
enum pv_mem_kind {
	PV_MEM_RAM = 0, /**< Guest RAM, backed by host memory from the port. */
	PV_MEM_MMIO,    /**< Emulated device space: accesses exit to handlers. */
	PV_MEM_RESERVED /**< Reserved: neither RAM nor emulated. */
};

/** @brief One range of the guest physical memory map. */
struct pv_mem_range {
	pv_gpa_t base;         /**< First address; must be page aligned. */
	uint64_t size;         /**< Length in bytes; non-zero, page multiple. */
	enum pv_mem_kind kind; /**< What backs it. */
};

/** @brief Who performs an access; selects the checks applied. */
enum pv_accessor {
	PV_ACCESS_VTL0 = 0,       /**< On behalf of the guest at VTL0: VTL0 permissions. */
	PV_ACCESS_VTL1 = 1,       /**< On behalf of the guest at VTL1: VTL1 permissions. */
	PV_ACCESS_VTL2 = 2,       /**< On behalf of the guest at VTL2: VTL2 permissions. */
	PV_ACCESS_PARAVISOR = 16, /**< The paravisor itself: no VTL checks, any visibility. */
	PV_ACCESS_HOST = 17       /**< Host-visible access: only pages shared with the host. */
};

/** @brief Per-VTL page permission bits. */
enum pv_page_perm {
	PV_PERM_READ = 1u << 0,  /**< Readable. */
	PV_PERM_WRITE = 1u << 1, /**< Writable. */
	PV_PERM_EXEC = 1u << 2,  /**< Executable (checked by ports/backends, not accessors). */
	PV_PERM_RWX = 7u         /**< All of the above. */
};

/** @brief Host visibility of a page (confidential guests). */
enum pv_page_visibility {
	PV_VIS_PRIVATE = 0, /**< Private to the guest; the host cannot read it. */
	PV_VIS_SHARED = 1   /**< Shared with (visible to) the host. */
};

/**
 * @brief Read guest memory.
 * @param part Partition.
 * @param who Accessor whose checks apply.
 * @param gpa First byte.
 * @param buf Destination, @p len bytes.
 * @param len Byte count; 0 succeeds without touching memory.
 * @return ::PV_OK; ::PV_ERANGE if [gpa, gpa+len) wraps or leaves the map;
 *         ::PV_EFAULT if any byte is not RAM; ::PV_EACCES if a page is not
 *         readable by @p who; ::PV_EINVAL on NULL arguments or a bad accessor.
 *         On failure nothing was copied.
 */
pv_err_t pv_mem_read(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa, void *buf,
		     size_t len);

/**
 * @brief Write guest memory.
 * @param part Partition.
 * @param who Accessor whose checks apply.
 * @param gpa First byte.
 * @param buf Source, @p len bytes.
 * @param len Byte count; 0 succeeds.
 * @return As pv_mem_read(), with write permission checked. On failure
 *         nothing was written.
 */
pv_err_t pv_mem_write(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa,
		      const void *buf, size_t len);

/**
 * @brief Fill guest memory with zeros.
 * @param part Partition.
 * @param who Accessor whose checks apply.
 * @param gpa First byte.
 * @param len Byte count.
 * @return As pv_mem_write().
 */
pv_err_t pv_mem_zero(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa, size_t len);

/**
 * @brief Copy between two guest ranges (overlap allowed, memmove semantics).
 * @param part Partition.
 * @param who Accessor whose checks apply (read on source, write on destination).
 * @param dst Destination GPA.
 * @param src Source GPA.
 * @param len Byte count.
 * @return As pv_mem_read() / pv_mem_write(); nothing is written on failure.
 */
pv_err_t pv_mem_copy(struct pv_partition *part, enum pv_accessor who, pv_gpa_t dst, pv_gpa_t src,
		     size_t len);

/**
 * @brief Check that a whole range is accessible, without touching it.
 * @param part Partition.
 * @param who Accessor.
 * @param gpa First byte.
 * @param len Byte count.
 * @param perm ::PV_PERM_READ and/or ::PV_PERM_WRITE.
 * @return ::PV_OK or the error pv_mem_read()/pv_mem_write() would return.
 */
pv_err_t pv_mem_check(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa, size_t len,
		      unsigned perm);

/**
 * @brief Set the host visibility of whole pages.
 * @param part Partition.
 * @param gpa Page-aligned first page.
 * @param npages Number of pages (> 0).
 * @param vis New visibility.
 * @return ::PV_OK; ::PV_EINVAL if unaligned or npages is 0; ::PV_ERANGE /
 *         ::PV_EFAULT if any page is not RAM (then nothing changed).
 */
pv_err_t pv_mem_set_visibility(struct pv_partition *part, pv_gpa_t gpa, uint64_t npages,
			       enum pv_page_visibility vis);

/**
 * @brief Set the permissions a lower VTL has on whole pages.
 * @param part Partition.
 * @param vtl VTL number (below the partition's VTL count).
 * @param gpa Page-aligned first page.
 * @param npages Number of pages (> 0).
 * @param perm Bit set of ::pv_page_perm.
 * @return ::PV_OK; ::PV_EINVAL for a bad VTL, unaligned address or bad bits;
 *         ::PV_ERANGE / ::PV_EFAULT if any page is not RAM (nothing changed).
 */
pv_err_t pv_mem_set_perm(struct pv_partition *part, unsigned vtl, pv_gpa_t gpa, uint64_t npages,
			 unsigned perm);

/**
 * @brief Read the state of one page.
 * @param part Partition.
 * @param gpa Any address inside the page.
 * @param vis Out: visibility (may be NULL).
 * @param perms Out: array of PV_MAX_VTLS permission sets (may be NULL).
 * @return ::PV_OK, or ::PV_EFAULT / ::PV_ERANGE if the page is not RAM.
 */
pv_err_t pv_mem_get_page(struct pv_partition *part, pv_gpa_t gpa, enum pv_page_visibility *vis,
			 unsigned perms[PV_MAX_VTLS]);

/**
 * @brief Find the memory-map range that contains an address.
 * @param part Partition.
 * @param gpa Address.
 * @param out Out: a copy of the range.
 * @return ::PV_OK or ::PV_ENOENT when no range contains @p gpa.
 */
pv_err_t pv_mem_lookup(struct pv_partition *part, pv_gpa_t gpa, struct pv_mem_range *out);

/**
 * @brief Atomically compare and exchange bytes of guest RAM.
 *
 * Naturally aligned 1, 2, 4 and 8-byte operands use the host CPU's atomic
 * compare-exchange on the backing memory, so they are atomic against the
 * guest's vCPUs (use it to publish a value the guest may clear
 * concurrently). 16-byte and misaligned operands are serialized only against
 * other calls of this function.
 * @param part Partition.
 * @param who Accessor whose checks apply (read and write permission).
 * @param gpa First byte.
 * @param len 1 .. 16 bytes.
 * @param expected In: the expected bytes; out: the current bytes when the
 *        comparison failed.
 * @param desired Bytes stored when the comparison succeeds.
 * @param swapped Out: whether the exchange happened.
 * @return ::PV_OK, or the error pv_mem_write() would return; ::PV_EINVAL
 *         for a bad length or NULL pointers.
 */
pv_err_t pv_mem_cmpxchg(struct pv_partition *part, enum pv_accessor who, pv_gpa_t gpa, unsigned len,
			void *expected, const void *desired, bool *swapped);

/**
 * @brief List the partition's memory map, sorted by address.
 * @param part Partition.
 * @param out Array receiving up to @p max ranges (may be NULL when @p max is 0).
 * @param max Capacity of @p out.
 * @param count Out: the number of ranges in the map (may exceed @p max).
 * @return ::PV_OK, or ::PV_EINVAL for NULL @p part / @p count.
 */
pv_err_t pv_mem_ranges(struct pv_partition *part, struct pv_mem_range *out, size_t max,
		       size_t *count);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_MEMORY_H */
