/* SPDX-License-Identifier: MIT */
/**
 * @file ring.h
 * @brief VMBus ring buffer (one direction): control page + circular data area.
 *
 * A ring is accessed only through a ::vmb_ring_io (ring-relative byte
 * offsets), so the same code runs over a GPADL page list in guest memory,
 * over a flat test buffer, or in the benchmark. Each side keeps its own index
 * privately (the producer its write index, the consumer its read index) and
 * only publishes it; the peer's index is read once per operation and
 * validated before use. Packet bytes are copied once into the caller's buffer
 * and checked there.
 */
#ifndef PV_VMBUS_RING_H
#define PV_VMBUS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "paravisor/error.h"

/** Size of the control page at the start of each ring. */
#define VMB_RING_CONTROL_SIZE 4096u
/** Control page field offsets. */
#define VMB_RING_OFF_WRITE_INDEX 0u
#define VMB_RING_OFF_READ_INDEX 4u
#define VMB_RING_OFF_INTERRUPT_MASK 8u
#define VMB_RING_OFF_PENDING_SEND 12u
#define VMB_RING_OFF_FEATURES 64u
/** Feature bit: the reader honours pending_send_sz. */
#define VMB_RING_FEAT_PENDING_SEND 0x1u
/** Packet descriptor size and the trailing previous-index word. */
#define VMB_PKT_DESC_SIZE 16u
#define VMB_PKT_TRAILER_SIZE 8u

/** Accessor of one ring's memory; offsets are relative to the control page. */
struct vmb_ring_io {
	/** Copy @p len bytes at ring offset @p off into @p buf. */
	pv_err_t (*read)(void *ctx, uint64_t off, void *buf, size_t len);
	/** Copy @p len bytes from @p buf to ring offset @p off. */
	pv_err_t (*write)(void *ctx, uint64_t off, const void *buf, size_t len);
	void *ctx; /**< Context of both. */
};

/** One ring as seen by one side. */
struct vmb_ring {
	struct vmb_ring_io io;
	uint32_t data_size; /**< Bytes of the circular area (multiple of 8). */
	uint32_t priv;      /**< Own index: write index (producer) or read index (consumer). */
	uint32_t committed; /**< Consumer: last published read index. */
	bool broken;        /**< The peer corrupted the ring; no more access. */
};

/** A piece of a packet to send (gather list element). */
struct vmb_ring_buf {
	const void *data;
	uint32_t len;
};

/**
 * Initialise a ring view. @p total is the ring size including the control page.
 * @return PV_OK or PV_EINVAL (too small, not a multiple of 8, or > 2 GiB).
 */
pv_err_t vmb_ring_init(struct vmb_ring *r, const struct vmb_ring_io *io, uint64_t total);

/** Producer: adopt the write index currently in the control page (validated). */
pv_err_t vmb_ring_attach_producer(struct vmb_ring *r);
/** Consumer: adopt the read index currently in the control page (validated). */
pv_err_t vmb_ring_attach_consumer(struct vmb_ring *r);
/** Zero both indices, the mask and pending size; set the feature bits (guest-side setup). */
pv_err_t vmb_ring_reset(struct vmb_ring *r, uint32_t features);

/**
 * Producer: write one packet: descriptor (type, flags, trans_id, offset8 = 2),
 * the gathered payload padded to 8 bytes, and the trailer.
 * @param signal Set to true when the consumer must be interrupted.
 * @param needed Receives the bytes the packet needs (for pending_send_sz) on PV_EBUSY.
 * @return PV_OK; PV_EBUSY (not enough space); PV_ERANGE (can never fit);
 *         PV_EBADMSG (peer index corrupt; ring now broken); an io error.
 */
pv_err_t vmb_ring_write(struct vmb_ring *r, uint16_t type, uint16_t flags, uint64_t trans_id,
			const struct vmb_ring_buf *bufs, unsigned nbufs, bool *signal,
			uint32_t *needed);

/**
 * Producer: write raw, pre-built packet bytes (descriptor included; @p len a
 * multiple of 8) followed by the trailer. Used by tests to forge packets.
 */
pv_err_t vmb_ring_write_raw(struct vmb_ring *r, const void *pkt, uint32_t len, bool *signal);

/** Producer: free bytes as seen now (reads the peer's read index once). */
pv_err_t vmb_ring_free_bytes(struct vmb_ring *r, uint32_t *free_bytes);

/** Producer: set (or clear with 0) pending_send_sz in the control page. */
pv_err_t vmb_ring_set_pending(struct vmb_ring *r, uint32_t bytes);

/**
 * Consumer: copy the next packet (descriptor + body, without the trailer)
 * into @p buf and advance the private read index (not yet published).
 * @param len Receives the packet length (len8 * 8) on PV_OK and PV_ERANGE.
 * @return PV_OK; PV_ENOENT (empty); PV_ERANGE (packet larger than @p cap:
 *         it is skipped); PV_EBADMSG (corrupt descriptor or index; ring now
 *         broken); an io error.
 */
pv_err_t vmb_ring_read(struct vmb_ring *r, void *buf, uint32_t cap, uint32_t *len);

/**
 * Consumer: publish the private read index.
 * @param signal Set to true when the producer is waiting for the space just freed.
 */
pv_err_t vmb_ring_commit_read(struct vmb_ring *r, bool *signal);

/** Read the interrupt mask (consumer-owned field) of a ring. */
pv_err_t vmb_ring_get_u32(struct vmb_ring *r, uint32_t off, uint32_t *val);
/** Write a control-page field. */
pv_err_t vmb_ring_put_u32(struct vmb_ring *r, uint32_t off, uint32_t val);

#endif /* PV_VMBUS_RING_H */
