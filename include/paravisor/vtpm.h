/* SPDX-License-Identifier: MIT */
/**
 * @file vtpm.h
 * @brief TPM 2.0 device with the TCG PC Client CRB interface, backed by libtpms.
 *
 * The device (pv_vtpm_create() and the calls on a vTPM, and the file
 * storage) exists only when the library was built with the TPM part:
 * @c PV_HAVE_TPM is defined in @c paravisor/config.h. pv_vtpm_crb_transact()
 * and the constants are always available.
 *
 * **One vTPM per process**: libtpms keeps its TPM in process-global state, so
 * pv_vtpm_create() fails with ::PV_EBUSY while another vTPM exists.
 *
 * Guest view (TCG PC Client Platform TPM Profile, CRB): five 4 KiB locality
 * pages at the base (0xFED40000 by default). Each page holds
 *
 * | offset | register                      | behaviour                                     |
 * |--------|-------------------------------|-----------------------------------------------|
 * | 0x00   | LOC_STATE (32)                | established, locAssigned, activeLocality, regValid |
 * | 0x08   | LOC_CTRL (32, write)          | requestAccess, relinquish, seize, resetEstablishment |
 * | 0x0C   | LOC_STS (32)                  | granted (this page's locality is active), beenSeized |
 * | 0x30   | INTF_ID (64)                  | CRB active, version 1, 5 localities, 64-byte transfers |
 * | 0x40   | CTRL_REQ (32)                 | cmdReady / goIdle; reads 0 (done at once)      |
 * | 0x44   | CTRL_STS (32)                 | tpmSts (fatal error), tpmIdle                  |
 * | 0x48   | CTRL_CANCEL (32)              | bit 0 read/write                               |
 * | 0x4C   | CTRL_START (32)               | write 1 runs the command; reads 0 when done    |
 * | 0x50   | INT_ENABLE / 0x54 INT_STS     | start interrupt (INT_STS bit 0, write 1 to clear) |
 * | 0x58   | CMD_SIZE, 0x5C/0x60 CMD_LADDR/HADDR, 0x64 RSP_SIZE, 0x68 RSP_ADDR (64) | read-only |
 * | 0x80   | data buffer (3968 bytes)      | command in, response out                       |
 *
 * Only the active locality's page reaches the control registers and the
 * buffer; other pages read them as zeros (buffer: 0xFF) and ignore writes.
 * While idle the buffer reads 0xFF and ignores writes, and START is ignored.
 * Commands run to completion inside the START write. If CTRL_CANCEL is set
 * when START is written the command is not run and the response is
 * TPM_RC_CANCELED. Malformed commands (bad tag, size field disagreeing with
 * the command) are passed to libtpms, which answers with its TPM error code.
 * Any access width (1, 2, 4, 8) at any offset has a defined result: register
 * reads are side-effect free; a write touches only the bytes it covers.
 */
#ifndef PARAVISOR_VTPM_H
#define PARAVISOR_VTPM_H

#include "paravisor/error.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Standard CRB base address. */
#define PV_VTPM_CRB_BASE 0xFED40000ull
/** @brief Size of the MMIO range: five 4 KiB locality pages. */
#define PV_VTPM_CRB_SIZE 0x5000ull
/** @brief Offset of the data buffer inside a locality page. */
#define PV_VTPM_CRB_BUFFER_OFFSET 0x80u
/** @brief Size of the data buffer (largest command or response). */
#define PV_VTPM_CRB_BUFFER_SIZE 0xF80u

/** @brief Names under which the vTPM stores state (libtpms's names). */
#define PV_VTPM_STATE_PERMANENT "permall"
/** @brief Volatile state name (see pv_vtpm_store_volatile()). */
#define PV_VTPM_STATE_VOLATILE "volatilestate"
/** @brief Saved state name (TPM2_Shutdown(STATE)). */
#define PV_VTPM_STATE_SAVE "savestate"

/** @brief Embedder-supplied persistent storage for the TPM state blobs. */
struct pv_vtpm_storage {
	/** Context passed to the callbacks. */
	void *ctx;
	/** Load blob @p name into @p buf (capacity @p cap); set @p *len to its
	 *  size. Return ::PV_OK, ::PV_ENOENT if absent, ::PV_ERANGE if @p cap
	 *  is too small (with @p *len set), or ::PV_EIO. */
	pv_err_t (*load)(void *ctx, const char *name, uint8_t *buf, size_t cap, size_t *len);
	/** Store blob @p name atomically (all or nothing). */
	pv_err_t (*store)(void *ctx, const char *name, const uint8_t *data, size_t len);
	/** Delete blob @p name; ::PV_ENOENT if absent. */
	pv_err_t (*remove)(void *ctx, const char *name);
};

/** @brief What to do right after power-on. */
enum pv_vtpm_startup {
	PV_VTPM_STARTUP_NONE = 0, /**< Nothing: the guest/firmware sends TPM2_Startup. */
	PV_VTPM_STARTUP_CLEAR,    /**< Send TPM2_Startup(TPM_SU_CLEAR). */
	PV_VTPM_STARTUP_STATE     /**< Send TPM2_Startup(TPM_SU_STATE). */
};

/** @brief vTPM configuration. */
struct pv_vtpm_config {
	uint64_t mmio_base;             /**< CRB base; 0 selects ::PV_VTPM_CRB_BASE. */
	struct pv_vtpm_storage storage; /**< State storage (mandatory callbacks). */
	enum pv_vtpm_startup startup;   /**< TPM2_Startup at power-on. */
	/** Resume from a stored volatile state if present (then no Startup is
	 *  sent); otherwise a stored volatile state is ignored. */
	bool resume_volatile;
	/** Interrupt line for the start interrupt (INT_ENABLE); ignored if !use_irq. */
	uint32_t irq;
	bool use_irq; /**< Drive @c irq from INT_STS & INT_ENABLE. */
};

/** @brief Opaque vTPM instance. */
struct pv_vtpm;

/**
 * @brief Create the vTPM: power it on and register its CRB MMIO range.
 *
 * Loads the permanent state from storage, or manufactures a new TPM (and
 * stores it) on first use; then sends TPM2_Startup if configured.
 * @param part Partition.
 * @param config Configuration (copied).
 * @param out Receives the device.
 * @return ::PV_OK; ::PV_EINVAL (NULL argument, missing storage callback);
 *         ::PV_EBUSY if a vTPM already exists in this process; ::PV_ENOMEM;
 *         ::PV_EEXIST if the MMIO range is taken; ::PV_EIO if libtpms could
 *         not initialize (the stored state is unusable).
 */
pv_err_t pv_vtpm_create(struct pv_partition *part, const struct pv_vtpm_config *config,
			struct pv_vtpm **out);

/**
 * @brief Power off and free the vTPM. NULL is ignored.
 *
 * The permanent state is already in storage (libtpms stores it whenever it
 * changes); call pv_vtpm_store_volatile() first to keep the volatile state.
 * @pre No vCPU is accessing the device.
 * @param vtpm Device.
 */
void pv_vtpm_destroy(struct pv_vtpm *vtpm);

/**
 * @brief Perform an MMIO access exactly as a guest load/store would.
 * @param vtpm Device.
 * @param offset Offset from the CRB base (0 .. ::PV_VTPM_CRB_SIZE - 1).
 * @param size 1, 2, 4 or 8.
 * @param is_write true for stores.
 * @param data In: value stored; out: value loaded.
 * @return ::PV_OK; ::PV_EINVAL for a bad argument or range.
 */
pv_err_t pv_vtpm_mmio(struct pv_vtpm *vtpm, uint64_t offset, uint8_t size, bool is_write,
		      uint64_t *data);

/**
 * @brief Platform reset: power the TPM off and on again (volatile state is
 *        lost; the configured startup is sent again).
 * @param vtpm Device.
 * @return ::PV_OK or ::PV_EIO.
 */
pv_err_t pv_vtpm_reset(struct pv_vtpm *vtpm);

/**
 * @brief Store the TPM's volatile state under ::PV_VTPM_STATE_VOLATILE.
 * @param vtpm Device.
 * @return ::PV_OK; ::PV_EIO; or the storage's error.
 */
pv_err_t pv_vtpm_store_volatile(struct pv_vtpm *vtpm);

/**
 * @brief Set or clear the platform's cancel request (as CTRL_CANCEL does).
 * @param vtpm Device.
 * @param on true to request cancellation.
 */
void pv_vtpm_set_cancel(struct pv_vtpm *vtpm, bool on);

/**
 * @brief Number of commands executed since creation.
 * @param vtpm Device.
 * @return The count.
 */
uint64_t pv_vtpm_command_count(struct pv_vtpm *vtpm);

/**
 * @brief Save the CRB interface state (registers and buffer) into a
 *        versioned byte record. The TPM's own state is kept by storage.
 * @param vtpm Device.
 * @param buf Destination (NULL to query the size).
 * @param cap Capacity.
 * @param len Receives the record length.
 * @return ::PV_OK; ::PV_ERANGE if it does not fit; ::PV_EINVAL.
 */
pv_err_t pv_vtpm_save(struct pv_vtpm *vtpm, uint8_t *buf, size_t cap, size_t *len);

/**
 * @brief Restore the CRB interface state (validated before anything changes).
 * @param vtpm Device.
 * @param buf Record from pv_vtpm_save().
 * @param len Length.
 * @return ::PV_OK; ::PV_EVERSION; ::PV_EBADMSG; ::PV_EINVAL.
 */
pv_err_t pv_vtpm_restore(struct pv_vtpm *vtpm, const uint8_t *buf, size_t len);

/**
 * @brief Run one TPM command through a CRB device the way a guest driver
 *        does, with MMIO exits dispatched on @p vcpu: request the locality,
 *        cmdReady, write the buffer, START, poll START, read the response,
 *        goIdle, relinquish.
 *
 * Works with any CRB device registered in the partition (this is the path
 * examples/tpm_server uses to serve tpm2-tools).
 * @param vcpu vCPU whose dispatcher performs the accesses.
 * @param base CRB base GPA.
 * @param locality 0..4.
 * @param cmd Command bytes.
 * @param cmd_len Command length (<= ::PV_VTPM_CRB_BUFFER_SIZE).
 * @param rsp Response buffer.
 * @param rsp_cap Its capacity.
 * @param rsp_len Receives the response length.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_EBUSY if the locality was not granted;
 *         ::PV_ETIMEDOUT if START never cleared; ::PV_EBADMSG if the
 *         response header is malformed; ::PV_ERANGE if it does not fit.
 */
pv_err_t pv_vtpm_crb_transact(struct pv_vcpu *vcpu, pv_gpa_t base, uint8_t locality,
			      const uint8_t *cmd, size_t cmd_len, uint8_t *rsp, size_t rsp_cap,
			      size_t *rsp_len);

/** @brief State of the file storage backend (see pv_vtpm_file_storage()). */
struct pv_vtpm_file_storage {
	char dir[512]; /**< Directory holding one file per blob (NUL-terminated). */
};

/**
 * @brief Make a storage interface that keeps each blob in
 *        `<dir>/tpm2-<name>.bin`, written atomically (temporary file, fsync,
 *        rename, fsync of the directory). Hosted builds only.
 * @param fs Backend state (must outlive the vTPM).
 * @param dir Existing directory.
 * @param out Receives the interface.
 * @return ::PV_OK; ::PV_EINVAL for NULL arguments or a too-long path.
 */
pv_err_t pv_vtpm_file_storage_init(struct pv_vtpm_file_storage *fs, const char *dir,
				   struct pv_vtpm_storage *out);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_VTPM_H */
