/* SPDX-License-Identifier: MIT */
/**
 * @file vmbus_internal.h
 * @brief Private state of the VMBus server, shared by the files of lib/vmbus.
 */
#ifndef PV_VMBUS_INTERNAL_H
#define PV_VMBUS_INTERNAL_H

#include "paravisor/partition.h"
#include "paravisor/vmbus.h"
#include "vmbus/ring.h"
#include "vmbus/vmbus_util.h"

/* Channel-management message types. */
enum vmb_msg {
	VMB_MSG_OFFERCHANNEL = 1,
	VMB_MSG_RESCIND_CHANNELOFFER = 2,
	VMB_MSG_REQUESTOFFERS = 3,
	VMB_MSG_ALLOFFERS_DELIVERED = 4,
	VMB_MSG_OPENCHANNEL = 5,
	VMB_MSG_OPENCHANNEL_RESULT = 6,
	VMB_MSG_CLOSECHANNEL = 7,
	VMB_MSG_GPADL_HEADER = 8,
	VMB_MSG_GPADL_BODY = 9,
	VMB_MSG_GPADL_CREATED = 10,
	VMB_MSG_GPADL_TEARDOWN = 11,
	VMB_MSG_GPADL_TORNDOWN = 12,
	VMB_MSG_RELID_RELEASED = 13,
	VMB_MSG_INITIATE_CONTACT = 14,
	VMB_MSG_VERSION_RESPONSE = 15,
	VMB_MSG_UNLOAD = 16,
	VMB_MSG_UNLOAD_RESPONSE = 17,
	VMB_MSG_MODIFYCHANNEL = 22,
	VMB_MSG_MODIFYCHANNEL_RESPONSE = 24,
	VMB_MSG_COUNT = 30
};

/* Sizes of the messages the server sends or requires. */
#define VMB_SZ_HDR 8u
#define VMB_SZ_OFFER 196u
#define VMB_SZ_OPEN 148u
#define VMB_SZ_INITIATE 40u
#define VMB_SZ_VERSION_RESPONSE 16u
#define VMB_SZ_GPADL_HEADER 20u
#define VMB_SZ_GPADL_BODY 16u

#define VMB_SYNIC_MESSAGE_TYPE 1u     /* HvPostMessage type of channel messages */
#define VMB_CONN_MESSAGE 1u           /* guest->host messages */
#define VMB_CONN_MESSAGE_V5 4u        /* INITIATE_CONTACT for >= 5.0 */
#define VMB_DEFAULT_SINT 2u           /* message SINT below 5.0 */
#define VMB_CHANNEL_CONN_BASE 0x2000u /* channel event connection = relid | base */
#define VMB_MAX_RELID 255u            /* relids 1..255 */
#define VMB_MAX_GPADLS 1024u
#define VMB_MAX_PENDING_GPADLS 16u /* GPADLs still waiting for their bodies */
#define VMB_MAX_GPA_RANGES 64u
#define VMB_OUTQ_LEN 64u
#define VMB_STATUS_FAIL 0xC0000001u /* non-zero creation/open status */
#define VMB_DEFAULT_MAX_PACKET 16384u
#define VMB_DEFAULT_MAX_GPADL_PAGES 262144u

struct vmb_gpadl_range {
	uint32_t byte_count;
	uint32_t byte_offset;
	uint32_t pfn_count;
	uint32_t pfn_index; /* first PFN in vmb_gpadl::pfns */
};

struct vmb_gpadl {
	struct vmb_gpadl *next;
	uint32_t id;
	uint32_t relid;
	bool complete;
	uint32_t in_use; /* relid of the open channel using it as its ring */
	/* while receiving */
	uint16_t range_buflen;
	uint16_t rangecount;
	uint32_t received;
	uint8_t *raw;
	/* once complete */
	uint32_t nranges;
	struct vmb_gpadl_range *ranges;
	uint32_t npfns;
	uint64_t *pfns;
	uint64_t total_bytes;
};

enum vmb_chan_state {
	VMB_CH_PENDING = 0, /* added; guest has not seen the offer */
	VMB_CH_OFFERED,     /* offer sent */
	VMB_CH_OPEN,        /* guest opened it */
	VMB_CH_RESCINDED    /* rescind sent; waiting for RELID_RELEASED */
};

/* Guest-memory view of one ring: a slice of the channel's ring page list. */
struct vmb_ring_pages {
	struct pv_vmbus *vmbus;
	const uint64_t *pfns;
	uint32_t npages;
};

struct vmb_pkt_ctx {
	struct pv_vmbus_channel *chan;
	const uint8_t *pkt; /* the copied packet */
	uint32_t pfn_off[VMB_MAX_GPA_RANGES];
};

struct pv_vmbus_channel {
	struct pv_vmbus *vmbus;
	uint32_t relid;
	uint32_t conn_id;
	enum vmb_chan_state state;
	bool detached; /* rescinded by the host: the device is gone */
	struct pv_vmbus_device_desc desc;
	void *in_lock;
	void *out_lock;
	/* open state (rings valid while @ready, under the ring locks) */
	bool ready;
	uint32_t open_id;
	uint32_t ring_gpadl;
	uint32_t downstream;
	uint32_t target_vp;
	uint64_t *ring_pfns;
	uint32_t ring_npages;
	struct vmb_ring_pages in_pages, out_pages;
	struct vmb_ring in, out;
	bool out_blocked;
	uint32_t out_needed;
	uint8_t *pkt_buf;
	uint32_t pkt_cap;
	struct pv_vmbus_gpa_range ranges[VMB_MAX_GPA_RANGES];
	struct vmb_pkt_ctx pctx;
};

struct vmb_outmsg {
	uint32_t vp;
	uint8_t sint;
	uint32_t size;
	uint8_t data[PV_HV1_MESSAGE_PAYLOAD_MAX];
};

struct pv_vmbus {
	struct pv_vmbus_config cfg;
	struct pv_vmbus_host_ops ops;
	const struct pv_platform *plat;
	void *lock;       /* server lock: state, channel table, messages */
	void *gpadl_lock; /* leaf lock for the GPADL list */
	void *stat_lock;  /* leaf lock for counters and the out queue */
	uint32_t vcpu_count;

	enum pv_vmbus_state state;
	uint32_t version;
	uint32_t target_vp;
	uint8_t msg_sint;

	struct pv_vmbus_channel *chans[VMB_MAX_RELID + 1];
	struct vmb_gpadl *gpadls;
	uint32_t ngpadls;
	uint64_t gpadl_pages;

	struct vmb_outmsg outq[VMB_OUTQ_LEN];
	uint32_t outq_head, outq_count;

	struct pv_vmbus_stats stats;
};

/* server.c */
void vmb_count(struct pv_vmbus *vmbus, uint64_t *counter);
void vmb_post(struct pv_vmbus *vmbus, const void *msg, uint32_t size);
/* Post a message of @size (16 or 20) bytes: @type, then @relid, @word2 and
 * @word3 at offsets 8, 12 and 16 (OPENCHANNEL_RESULT, GPADL_CREATED...). */
void vmb_post_relid_status(struct pv_vmbus *vmbus, uint32_t type, uint32_t relid, uint32_t word2,
			   uint32_t word3, uint32_t size);
void *vmb_alloc(struct pv_vmbus *vmbus, size_t size);
void vmb_free(struct pv_vmbus *vmbus, void *p);
void vmb_lock(struct pv_vmbus *vmbus, void *lock);
void vmb_unlock(struct pv_vmbus *vmbus, void *lock);
pv_err_t vmb_handle_message(struct pv_vmbus *vmbus, const uint8_t *msg, uint32_t size);
void vmb_free_channel(struct pv_vmbus *vmbus, struct pv_vmbus_channel *chan);
void vmb_reset_connection(struct pv_vmbus *vmbus);

/* gpadl.c */
struct vmb_gpadl *vmb_gpadl_find(struct pv_vmbus *vmbus, uint32_t id);
void vmb_gpadl_handle_header(struct pv_vmbus *vmbus, const uint8_t *msg, uint32_t size);
void vmb_gpadl_handle_body(struct pv_vmbus *vmbus, const uint8_t *msg, uint32_t size);
void vmb_gpadl_handle_teardown(struct pv_vmbus *vmbus, const uint8_t *msg, uint32_t size);
void vmb_gpadl_free_relid(struct pv_vmbus *vmbus, uint32_t relid);
void vmb_gpadl_free_all(struct pv_vmbus *vmbus);
pv_err_t vmb_gpadl_insert(struct pv_vmbus *vmbus, struct vmb_gpadl *g);
pv_err_t vmb_gpadl_finish(struct pv_vmbus *vmbus, struct vmb_gpadl *g);
void vmb_gpadl_destroy(struct pv_vmbus *vmbus, struct vmb_gpadl *g);
pv_err_t vmb_gpadl_access(struct pv_vmbus *vmbus, const struct vmb_gpadl *g, uint64_t offset,
			  void *buf, size_t len, bool write);

/* channel.c */
pv_err_t vmb_channel_open(struct pv_vmbus *vmbus, struct pv_vmbus_channel *chan, uint32_t gpadl_id,
			  uint32_t downstream, uint32_t target_vp, uint32_t open_id,
			  bool attach_indices);
void vmb_channel_close(struct pv_vmbus *vmbus, struct pv_vmbus_channel *chan);
void vmb_channel_drain(struct pv_vmbus_channel *chan);
pv_err_t vmb_on_event(void *ctx, struct pv_vcpu *vcpu, uint32_t connection_id,
		      uint16_t flag_number);
void vmb_send_offer(struct pv_vmbus *vmbus, struct pv_vmbus_channel *chan);

#endif /* PV_VMBUS_INTERNAL_H */
