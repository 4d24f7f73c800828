/* SPDX-License-Identifier: MIT */
/*
 * VMBus ring buffer, one direction. Layout: a 4 KiB control page (write
 * index, read index, interrupt mask, pending send size, feature bits) then a
 * circular data area. Packets are a 16-byte descriptor, the payload padded
 * to 8 bytes, and an 8-byte trailer whose high half is the packet's start
 * offset. Indices are byte offsets into the data area, always multiples of 8.
 */
#include "vmbus/ring.h"

#include "vmbus/vmbus_util.h"

/* Packets up to this size (with trailer) are assembled on the stack. */
#define VMB_RING_SMALL_PACKET 512u

/* Largest ring accepted: keeps every index sum inside 32 bits. */
#define VMB_RING_MAX_DATA 0x80000000u

pv_err_t vmb_ring_init(struct vmb_ring *r, const struct vmb_ring_io *io, uint64_t total)
{
	if (!r || !io || !io->read || !io->write)
		return PV_EINVAL;
	if (total <= VMB_RING_CONTROL_SIZE || total % 8 != 0 ||
	    total - VMB_RING_CONTROL_SIZE > VMB_RING_MAX_DATA)
		return PV_EINVAL;
	r->io = *io;
	r->data_size = (uint32_t)(total - VMB_RING_CONTROL_SIZE);
	if (r->data_size < 2 * (VMB_PKT_DESC_SIZE + VMB_PKT_TRAILER_SIZE))
		return PV_EINVAL;
	r->priv = 0;
	r->committed = 0;
	r->broken = false;
	return PV_OK;
}

pv_err_t vmb_ring_get_u32(struct vmb_ring *r, uint32_t off, uint32_t *val)
{
	uint8_t b[4];
	pv_err_t e = r->io.read(r->io.ctx, off, b, 4);

	if (e == PV_OK)
		*val = vmb_get32(b);
	return e;
}

pv_err_t vmb_ring_put_u32(struct vmb_ring *r, uint32_t off, uint32_t val)
{
	uint8_t b[4];

	vmb_put32(b, val);
	return r->io.write(r->io.ctx, off, b, 4);
}

static bool index_ok(const struct vmb_ring *r, uint32_t idx)
{
	return idx < r->data_size && idx % 8 == 0;
}

/* Read the peer's index once and validate it; a bad one breaks the ring. */
static pv_err_t peer_index(struct vmb_ring *r, uint32_t off, uint32_t *idx)
{
	pv_err_t e = vmb_ring_get_u32(r, off, idx);

	if (e != PV_OK)
		return e;
	if (!index_ok(r, *idx)) {
		r->broken = true;
		return PV_EBADMSG;
	}
	return PV_OK;
}

static pv_err_t attach(struct vmb_ring *r, uint32_t off)
{
	uint32_t idx;
	pv_err_t e;

	r->broken = false;
	e = peer_index(r, off, &idx);
	if (e != PV_OK)
		return e;
	r->priv = idx;
	r->committed = idx;
	return PV_OK;
}

pv_err_t vmb_ring_attach_producer(struct vmb_ring *r)
{
	return attach(r, VMB_RING_OFF_WRITE_INDEX);
}

pv_err_t vmb_ring_attach_consumer(struct vmb_ring *r)
{
	return attach(r, VMB_RING_OFF_READ_INDEX);
}

pv_err_t vmb_ring_reset(struct vmb_ring *r, uint32_t features)
{
	uint8_t ctl[68];
	pv_err_t e;

	vmb_memset(ctl, 0, sizeof(ctl));
	vmb_put32(ctl + VMB_RING_OFF_FEATURES, features);
	e = r->io.write(r->io.ctx, 0, ctl, sizeof(ctl));
	r->priv = 0;
	r->committed = 0;
	r->broken = false;
	return e;
}

/* Bytes in use between a read index and a write index. */
static uint32_t used_bytes(const struct vmb_ring *r, uint32_t rd, uint32_t wr)
{
	return wr >= rd ? wr - rd : r->data_size - (rd - wr);
}

/* Copy into the data area at @pos, wrapping at the end. */
static pv_err_t data_write(struct vmb_ring *r, uint32_t pos, const void *src, uint32_t len)
{
	uint32_t first = r->data_size - pos;
	pv_err_t e;

	if (len <= first)
		return r->io.write(r->io.ctx, (uint64_t)VMB_RING_CONTROL_SIZE + pos, src, len);
	e = r->io.write(r->io.ctx, (uint64_t)VMB_RING_CONTROL_SIZE + pos, src, first);
	if (e != PV_OK)
		return e;
	return r->io.write(r->io.ctx, VMB_RING_CONTROL_SIZE, (const uint8_t *)src + first,
			   len - first);
}

static pv_err_t data_read(struct vmb_ring *r, uint32_t pos, void *dst, uint32_t len)
{
	uint32_t first = r->data_size - pos;
	pv_err_t e;

	if (len <= first)
		return r->io.read(r->io.ctx, (uint64_t)VMB_RING_CONTROL_SIZE + pos, dst, len);
	e = r->io.read(r->io.ctx, (uint64_t)VMB_RING_CONTROL_SIZE + pos, dst, first);
	if (e != PV_OK)
		return e;
	return r->io.read(r->io.ctx, VMB_RING_CONTROL_SIZE, (uint8_t *)dst + first, len - first);
}

static uint32_t advance(const struct vmb_ring *r, uint32_t pos, uint32_t len)
{
	/* pos < data_size <= 2^31 and len <= data_size: no 32-bit overflow. */
	pos += len;
	return pos >= r->data_size ? pos - r->data_size : pos;
}

pv_err_t vmb_ring_free_bytes(struct vmb_ring *r, uint32_t *free_bytes)
{
	uint32_t rd;
	pv_err_t e;

	if (r->broken)
		return PV_EBADMSG;
	e = peer_index(r, VMB_RING_OFF_READ_INDEX, &rd);
	if (e != PV_OK)
		return e;
	*free_bytes = r->data_size - used_bytes(r, rd, r->priv);
	return PV_OK;
}

pv_err_t vmb_ring_set_pending(struct vmb_ring *r, uint32_t bytes)
{
	return vmb_ring_put_u32(r, VMB_RING_OFF_PENDING_SEND, bytes);
}

/* Publish the new write index, then decide whether the reader needs a signal:
 * only when it has not masked interrupts and had consumed everything up to the
 * old write index (the ring was empty before this packet). */
static pv_err_t publish_write(struct vmb_ring *r, uint32_t old_w, bool *signal)
{
	uint32_t mask, rd;
	pv_err_t e;

	vmb_fence_release();
	e = vmb_ring_put_u32(r, VMB_RING_OFF_WRITE_INDEX, r->priv);
	if (e != PV_OK)
		return e;
	vmb_fence();
	*signal = false;
	e = vmb_ring_get_u32(r, VMB_RING_OFF_INTERRUPT_MASK, &mask);
	if (e != PV_OK || mask != 0)
		return e;
	e = vmb_ring_get_u32(r, VMB_RING_OFF_READ_INDEX, &rd);
	if (e != PV_OK)
		return e;
	*signal = rd == old_w;
	return PV_OK;
}

/* The packet's body ends at @pos: store the trailer there, move the private
 * write index past it and publish. */
static pv_err_t finish_packet(struct vmb_ring *r, uint32_t old_w, uint32_t pos,
			      const uint8_t trailer[VMB_PKT_TRAILER_SIZE], bool *signal)
{
	pv_err_t e = data_write(r, pos, trailer, VMB_PKT_TRAILER_SIZE);

	if (e != PV_OK)
		return e;
	r->priv = advance(r, pos, VMB_PKT_TRAILER_SIZE);
	return publish_write(r, old_w, signal);
}

static pv_err_t reserve(struct vmb_ring *r, uint64_t total, uint32_t *needed)
{
	uint32_t free_bytes;
	pv_err_t e;

	/* The ring is never filled completely: read == write means empty. */
	if (total >= r->data_size)
		return PV_ERANGE;
	e = vmb_ring_free_bytes(r, &free_bytes);
	if (e != PV_OK)
		return e;
	if (needed)
		*needed = (uint32_t)total;
	return total < free_bytes ? PV_OK : PV_EBUSY;
}

pv_err_t vmb_ring_write(struct vmb_ring *r, uint16_t type, uint16_t flags, uint64_t trans_id,
			const struct vmb_ring_buf *bufs, unsigned nbufs, bool *signal,
			uint32_t *needed)
{
	static const uint8_t zeros[8];
	uint8_t desc[VMB_PKT_DESC_SIZE], trailer[VMB_PKT_TRAILER_SIZE];
	uint64_t payload = 0, pkt_len, total;
	uint32_t old_w, pos;
	pv_err_t e;
	unsigned i;

	*signal = false;
	if (r->broken)
		return PV_EBADMSG;
	for (i = 0; i < nbufs; i++)
		payload += bufs[i].len; /* nbufs is small; each len is 32-bit */
	pkt_len = (VMB_PKT_DESC_SIZE + payload + 7) & ~(uint64_t)7;
	if (pkt_len / 8 > 0xffff)
		return PV_ERANGE;
	total = pkt_len + VMB_PKT_TRAILER_SIZE;
	e = reserve(r, total, needed);
	if (e != PV_OK)
		return e;

	vmb_put16(desc, type);
	vmb_put16(desc + 2, VMB_PKT_DESC_SIZE / 8);
	vmb_put16(desc + 4, (uint16_t)(pkt_len / 8));
	vmb_put16(desc + 6, flags);
	vmb_put64(desc + 8, trans_id);

	old_w = r->priv;
	vmb_put64(trailer, (uint64_t)old_w << 32);
	if (total <= VMB_RING_SMALL_PACKET) {
		/* Small packet: assemble it whole and store it with one write. */
		uint8_t small[VMB_RING_SMALL_PACKET];
		uint32_t off = VMB_PKT_DESC_SIZE;

		vmb_memcpy(small, desc, sizeof(desc));
		for (i = 0; i < nbufs; i++) {
			if (bufs[i].len)
				vmb_memcpy(small + off, bufs[i].data, bufs[i].len);
			off += bufs[i].len;
		}
		vmb_memset(small + off, 0, (size_t)(pkt_len - off));
		vmb_memcpy(small + pkt_len, trailer, sizeof(trailer));
		e = data_write(r, old_w, small, (uint32_t)total);
		if (e != PV_OK)
			return e;
		r->priv = advance(r, old_w, (uint32_t)total);
		return publish_write(r, old_w, signal);
	}
	pos = old_w;
	e = data_write(r, pos, desc, sizeof(desc));
	pos = advance(r, pos, sizeof(desc));
	for (i = 0; i < nbufs && e == PV_OK; i++) {
		if (!bufs[i].len)
			continue;
		e = data_write(r, pos, bufs[i].data, bufs[i].len);
		pos = advance(r, pos, bufs[i].len);
	}
	if (e == PV_OK && pkt_len - VMB_PKT_DESC_SIZE != payload) {
		uint32_t pad = (uint32_t)(pkt_len - VMB_PKT_DESC_SIZE - payload);

		e = data_write(r, pos, zeros, pad);
		pos = advance(r, pos, pad);
	}
	if (e != PV_OK)
		return e;
	return finish_packet(r, old_w, pos, trailer, signal);
}

pv_err_t vmb_ring_write_raw(struct vmb_ring *r, const void *pkt, uint32_t len, bool *signal)
{
	uint8_t trailer[VMB_PKT_TRAILER_SIZE];
	uint32_t old_w, pos;
	pv_err_t e;

	*signal = false;
	if (r->broken)
		return PV_EBADMSG;
	if (len % 8 != 0 || len == 0)
		return PV_EINVAL;
	e = reserve(r, (uint64_t)len + VMB_PKT_TRAILER_SIZE, NULL);
	if (e != PV_OK)
		return e;
	old_w = r->priv;
	e = data_write(r, old_w, pkt, len);
	pos = advance(r, old_w, len);
	if (e != PV_OK)
		return e;
	vmb_put64(trailer, (uint64_t)old_w << 32);
	return finish_packet(r, old_w, pos, trailer, signal);
}

pv_err_t vmb_ring_read(struct vmb_ring *r, void *buf, uint32_t cap, uint32_t *len)
{
	uint8_t desc[VMB_PKT_DESC_SIZE];
	uint32_t wr, avail, off8, len8, pkt_len;
	pv_err_t e;

	if (r->broken)
		return PV_EBADMSG;
	e = peer_index(r, VMB_RING_OFF_WRITE_INDEX, &wr);
	if (e != PV_OK)
		return e;
	if (wr == r->priv)
		return PV_ENOENT;
	/* Order the index load before the data loads. */
	vmb_fence_acquire();
	avail = used_bytes(r, r->priv, wr);
	if (avail < VMB_PKT_DESC_SIZE + VMB_PKT_TRAILER_SIZE)
		goto corrupt;
	e = data_read(r, r->priv, desc, sizeof(desc));
	if (e != PV_OK)
		return e;
	off8 = vmb_get16(desc + 2);
	len8 = vmb_get16(desc + 4);
	pkt_len = len8 * 8u;
	if (off8 < VMB_PKT_DESC_SIZE / 8 || off8 > len8 || pkt_len < VMB_PKT_DESC_SIZE ||
	    pkt_len > avail - VMB_PKT_TRAILER_SIZE)
		goto corrupt;
	*len = pkt_len;
	if (pkt_len > cap) {
		/* Too large for the consumer: skip it, the ring stays usable. */
		r->priv = advance(r, r->priv, pkt_len + VMB_PKT_TRAILER_SIZE);
		return PV_ERANGE;
	}
	vmb_memcpy(buf, desc, sizeof(desc));
	if (pkt_len > VMB_PKT_DESC_SIZE) {
		e = data_read(r, advance(r, r->priv, VMB_PKT_DESC_SIZE),
			      (uint8_t *)buf + VMB_PKT_DESC_SIZE, pkt_len - VMB_PKT_DESC_SIZE);
		if (e != PV_OK)
			return e;
	}
	r->priv = advance(r, r->priv, pkt_len + VMB_PKT_TRAILER_SIZE);
	return PV_OK;

corrupt:
	r->broken = true;
	return PV_EBADMSG;
}

pv_err_t vmb_ring_commit_read(struct vmb_ring *r, bool *signal)
{
	uint32_t pending, wr, freed, free_after, free_before;
	pv_err_t e;

	*signal = false;
	if (r->priv == r->committed)
		return PV_OK;
	vmb_fence_release();
	e = vmb_ring_put_u32(r, VMB_RING_OFF_READ_INDEX, r->priv);
	if (e != PV_OK)
		return e;
	freed = used_bytes(r, r->committed, r->priv);
	r->committed = r->priv;
	vmb_fence();
	/* A blocked writer set pending_send_sz: wake it only when this read made
	 * the free space cross above what it asked for. */
	e = vmb_ring_get_u32(r, VMB_RING_OFF_PENDING_SEND, &pending);
	if (e != PV_OK || pending == 0)
		return e;
	e = peer_index(r, VMB_RING_OFF_WRITE_INDEX, &wr);
	if (e != PV_OK)
		return e;
	free_after = r->data_size - used_bytes(r, r->priv, wr);
	free_before = free_after >= freed ? free_after - freed : 0;
	*signal = free_before <= pending && free_after > pending;
	return PV_OK;
}
