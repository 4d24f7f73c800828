/* SPDX-License-Identifier: MIT */
/**
 * @file vmbus.h
 * @brief VMBus host: channel management server, GPADLs, ring buffers and the
 *        device API on top of the hv1 SynIC.
 *
 * The server answers the guest's channel-management messages (posted with
 * HvPostMessage to connection 1 or 4) with messages on the guest's VMBus SINT,
 * offers every added device as a channel, maps the guest's GPADLs and runs the
 * two ring buffers of each open channel. A device never touches ring memory:
 * it receives whole, validated packets through its @c packet callback and
 * sends with pv_vmbus_send() / pv_vmbus_send_completion().
 *
 * Protocol versions accepted (newest first): 5.3, 5.2, 5.1, 5.0, 4.1, 4.0,
 * 3.0, 2.4 (Windows 8 / Server 2012 and later, Linux 3.x and later). Older
 * versions and 6.0 are refused, and the guest falls back to the next one.
 *
 * Locking: one server lock serialises channel-management messages and the
 * calls that change the channel set; each channel has an inbound and an
 * outbound ring lock; GPADL lookups take a leaf lock. Device callbacks may
 * call pv_vmbus_send(), pv_vmbus_send_completion() and the GPA/GPADL access
 * calls, but not pv_vmbus_channel_poll(), pv_vmbus_device_add(),
 * pv_vmbus_device_rescind(), pv_vmbus_save() or pv_vmbus_restore().
 */
#ifndef PARAVISOR_VMBUS_H
#define PARAVISOR_VMBUS_H

#include "paravisor/error.h"
#include "paravisor/hv1.h"
#include "paravisor/memory.h"
#include "paravisor/platform.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Opaque VMBus server (one per partition). */
struct pv_vmbus;
/** @brief Opaque channel: one offered device. */
struct pv_vmbus_channel;

/** @brief A GUID in VMBus wire order (Data1..3 little-endian, Data4 as bytes). */
struct pv_guid {
	uint8_t b[16]; /**< The 16 bytes as they appear in messages. */
};

/**
 * @brief Build a ::pv_guid from its textual fields.
 *
 * For "57164f39-9115-4e78-ab55-382f3bd5422d" pass 0x57164f39, 0x9115,
 * 0x4e78, 0xab55, 0x382f3bd5422d.
 */
#define PV_GUID_INIT(d1, d2, d3, d4, d5)                                                        \
	{                                                                                       \
		{                                                                               \
			(uint8_t)((d1)&0xff), (uint8_t)(((d1) >> 8) & 0xff),                    \
				(uint8_t)(((d1) >> 16) & 0xff), (uint8_t)(((d1) >> 24) & 0xff), \
				(uint8_t)((d2)&0xff), (uint8_t)(((d2) >> 8) & 0xff),            \
				(uint8_t)((d3)&0xff), (uint8_t)(((d3) >> 8) & 0xff),            \
				(uint8_t)(((d4) >> 8) & 0xff), (uint8_t)((d4)&0xff),            \
				(uint8_t)(((uint64_t)(d5) >> 40) & 0xff),                       \
				(uint8_t)(((uint64_t)(d5) >> 32) & 0xff),                       \
				(uint8_t)(((uint64_t)(d5) >> 24) & 0xff),                       \
				(uint8_t)(((uint64_t)(d5) >> 16) & 0xff),                       \
				(uint8_t)(((uint64_t)(d5) >> 8) & 0xff),                        \
				(uint8_t)((uint64_t)(d5)&0xff)                                  \
		}                                                                               \
	}

/** @brief Protocol version numbers (major << 16 | minor). */
enum pv_vmbus_version {
	PV_VMBUS_VERSION_WIN8 = 0x00020004,   /**< 2.4: oldest accepted. */
	PV_VMBUS_VERSION_WIN8_1 = 0x00030000, /**< 3.0. */
	PV_VMBUS_VERSION_WIN10 = 0x00040000,  /**< 4.0. */
	PV_VMBUS_VERSION_4_1 = 0x00040001,    /**< 4.1: MODIFYCHANNEL. */
	PV_VMBUS_VERSION_5_0 = 0x00050000,    /**< 5.0: INITIATE_CONTACT on connection 4. */
	PV_VMBUS_VERSION_5_1 = 0x00050001,    /**< 5.1. */
	PV_VMBUS_VERSION_5_2 = 0x00050002,    /**< 5.2. */
	PV_VMBUS_VERSION_5_3 = 0x00050003     /**< 5.3: MODIFYCHANNEL_RESPONSE; newest accepted. */
};

/** @brief VMBus packet types (descriptor @c type field). */
enum pv_vmbus_packet_type {
	PV_VMBUS_PKT_DATA_INBAND = 0x6,     /**< Data in the packet. */
	PV_VMBUS_PKT_DATA_GPA_DIRECT = 0x9, /**< Data in guest pages named by GPA ranges. */
	PV_VMBUS_PKT_COMPLETION = 0xB       /**< Completion echoing a transaction ID. */
};

/** @brief Descriptor flag: the sender wants a completion packet. */
#define PV_VMBUS_PKT_FLAG_COMPLETION_REQUESTED 0x1u

/** @brief Offer flags (OFFERCHANNEL channel flags field). */
enum pv_vmbus_offer_flags {
	PV_VMBUS_OFFER_ENUMERATE_DEVICE_INTERFACE = 0x1, /**< Enumerate the device interface. */
	PV_VMBUS_OFFER_NAMED_PIPE_MODE = 0x10            /**< The user data is a pipe header. */
};

/** @brief Largest packet a device may set as pv_vmbus_device_desc::max_packet. */
#define PV_VMBUS_MAX_PACKET (1u << 20)

/**
 * @brief One GPA range of a GPA-direct packet (validated, PFN list not copied).
 */
struct pv_vmbus_gpa_range {
	uint32_t byte_count;  /**< Bytes described by the range. */
	uint32_t byte_offset; /**< Offset of the first byte in the first page (< 4096). */
	uint32_t pfn_count;   /**< Pages named by the range. */
};

/** @brief A received packet, copied out of the ring and validated. */
struct pv_vmbus_packet {
	uint16_t type;        /**< ::pv_vmbus_packet_type (others are delivered too). */
	uint16_t flags;       /**< Descriptor flags. */
	uint64_t trans_id;    /**< Transaction ID. */
	const uint8_t *data;  /**< Payload (after the descriptor, from offset8). */
	uint32_t len;         /**< Payload length, including the sender's padding. */
	uint32_t range_count; /**< GPA ranges (GPA-direct packets only, else 0). */
	/** Ranges; read their bytes with pv_vmbus_packet_read_range(). */
	const struct pv_vmbus_gpa_range *ranges;
	const void *priv; /**< Server-private; do not touch. */
};

/** @brief Device callbacks. All but @c packet are optional. */
struct pv_vmbus_device_ops {
	/**
	 * @brief The guest opens the channel (before the result is sent).
	 * @return ::PV_OK to accept; an error makes the open fail for the guest.
	 */
	pv_err_t (*open)(void *ctx, struct pv_vmbus_channel *chan);
	/** @brief The channel is open and the guest has been told; sending is allowed. */
	void (*opened)(void *ctx, struct pv_vmbus_channel *chan);
	/** @brief The channel was closed (guest close, unload, rescind or restore). */
	void (*close)(void *ctx, struct pv_vmbus_channel *chan);
	/**
	 * @brief One packet arrived from the guest. @p pkt is valid during the call only.
	 * Runs with the channel's inbound lock held, on the thread that
	 * signalled (a vCPU) or that called pv_vmbus_channel_poll().
	 */
	void (*packet)(void *ctx, struct pv_vmbus_channel *chan, const struct pv_vmbus_packet *pkt);
	/** @brief Space freed in the host-to-guest ring after a send returned ::PV_EBUSY. */
	void (*writable)(void *ctx, struct pv_vmbus_channel *chan);
};

/** @brief What a device offers. Copied by pv_vmbus_device_add(). */
struct pv_vmbus_device_desc {
	struct pv_guid class_id;    /**< Interface type GUID (what the guest driver matches). */
	struct pv_guid instance_id; /**< Unique instance GUID. */
	uint16_t offer_flags;       /**< ::pv_vmbus_offer_flags. */
	uint16_t mmio_megabytes;    /**< MMIO space wanted (usually 0). */
	uint8_t user_defined[120];  /**< Offer user data (pipe header in pipe mode). */
	uint32_t max_packet;        /**< Largest inbound packet accepted, bytes (0: 16 KiB). */
	const struct pv_vmbus_device_ops *ops; /**< Callbacks (non-NULL, @c packet set). */
	void *ctx;                             /**< Context for the callbacks. */
};

/**
 * @brief Optional replacement for the SynIC and guest-memory services.
 *
 * By default the server uses the partition's hv1 SynIC
 * (pv_hv1_post_message(), pv_hv1_signal_event(), the handler registrations)
 * and pv_mem_read() / pv_mem_write() with the configured accessor. An
 * embedder with another transport (or a test) supplies all members here.
 */
struct pv_vmbus_host_ops {
	void *ctx; /**< Context for every member. */
	/** @brief As pv_hv1_post_message(). */
	pv_err_t (*post_message)(void *ctx, uint32_t vp_index, uint8_t sint, uint32_t message_type,
				 const void *payload, uint32_t size);
	/** @brief As pv_hv1_signal_event(). */
	pv_err_t (*signal_event)(void *ctx, uint32_t vp_index, uint8_t sint, uint32_t flag);
	/** @brief As pv_hv1_register_message_handler(). */
	pv_err_t (*register_message_handler)(void *ctx, uint32_t connection_id,
					     pv_hv1_message_fn fn, void *fn_ctx);
	/** @brief As pv_hv1_unregister_message_handler(). */
	pv_err_t (*unregister_message_handler)(void *ctx, uint32_t connection_id);
	/** @brief As pv_hv1_register_event_handler(). */
	pv_err_t (*register_event_handler)(void *ctx, uint32_t connection_id, pv_hv1_event_fn fn,
					   void *fn_ctx);
	/** @brief As pv_hv1_unregister_event_handler(). */
	pv_err_t (*unregister_event_handler)(void *ctx, uint32_t connection_id);
	/** @brief Read guest memory (as pv_mem_read()). */
	pv_err_t (*mem_read)(void *ctx, uint64_t gpa, void *buf, size_t len);
	/** @brief Write guest memory (as pv_mem_write()). */
	pv_err_t (*mem_write)(void *ctx, uint64_t gpa, const void *buf, size_t len);
};

/** @brief Server configuration. Copied by pv_vmbus_create(). */
struct pv_vmbus_config {
	struct pv_partition *part; /**< Partition (NULL only with @c host_ops and @c platform). */
	struct pv_hv1 *hv1;        /**< SynIC (ignored with @c host_ops). */
	const struct pv_vmbus_host_ops *host_ops; /**< NULL: hv1 and pv_mem_*. */
	const struct pv_platform *platform;       /**< NULL: pv_partition_platform(part). */
	enum pv_accessor accessor; /**< Accessor for guest memory (normally ::PV_ACCESS_VTL0). */
	uint32_t vcpu_count;       /**< 0: pv_partition_vcpu_count(part). */
	uint32_t max_gpadl_pages;  /**< Cap on pages of all GPADLs together (0: 262144). */
};

/** @brief Server counters. */
struct pv_vmbus_stats {
	uint64_t messages;      /**< Channel-management messages received. */
	uint64_t malformed;     /**< Dropped: truncated, bad field, unknown type. */
	uint64_t unexpected;    /**< Dropped: wrong state, duplicate, unknown relid/GPADL. */
	uint64_t post_failures; /**< Host-to-guest messages that could not be posted. */
	uint64_t gpadls;        /**< GPADLs currently held. */
	uint64_t gpadl_pages;   /**< Pages in those GPADLs. */
	uint64_t bad_packets;   /**< Inbound packets dropped as malformed or too large. */
	uint64_t ring_errors;   /**< Rings found corrupt (channel stops reading). */
	uint64_t packets_in;    /**< Packets delivered to devices. */
	uint64_t packets_out;   /**< Packets sent to the guest. */
	uint64_t signals_in;    /**< HvSignalEvent calls received. */
	uint64_t signals_out;   /**< Guest interrupts raised for channels. */
	uint64_t post_deferred; /**< Messages held back because the SINT queue was full. */
};

/** @brief Connection state of the server. */
enum pv_vmbus_state {
	PV_VMBUS_DISCONNECTED = 0, /**< No version negotiated. */
	PV_VMBUS_CONNECTED,        /**< Version negotiated, offers not requested. */
	PV_VMBUS_OFFERS_SENT /**< The guest asked for offers; new devices are offered at once. */
};

/**
 * @brief Create a server and register its message handlers (connections 1 and 4).
 * @param config Configuration.
 * @param out Receives the server.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ENOMEM; or the registration error.
 */
pv_err_t pv_vmbus_create(const struct pv_vmbus_config *config, struct pv_vmbus **out);

/**
 * @brief Destroy a server: close open channels, free GPADLs, unregister handlers.
 * Devices' @c close callbacks run. NULL is ignored.
 * @pre No vCPU is running (a hypercall in flight may still hold the server).
 * @param vmbus Server.
 */
void pv_vmbus_destroy(struct pv_vmbus *vmbus);

/**
 * @brief Add a device; it is offered at once if the guest already asked for offers.
 * @param vmbus Server.
 * @param desc Device description (copied).
 * @param out Receives the channel (valid until pv_vmbus_device_rescind() or
 *            pv_vmbus_destroy()).
 * @return ::PV_OK; ::PV_EINVAL; ::PV_EEXIST (same instance GUID);
 *         ::PV_EBUSY (no free relid); ::PV_ENOMEM.
 */
pv_err_t pv_vmbus_device_add(struct pv_vmbus *vmbus, const struct pv_vmbus_device_desc *desc,
			     struct pv_vmbus_channel **out);

/**
 * @brief Remove a device: close its channel, send RESCIND_CHANNELOFFER.
 *
 * The relid (and the GPADLs the guest still holds for it) are freed when the
 * guest answers RELID_RELEASED, or at once if the guest never saw the offer.
 * The channel handle must not be used afterwards.
 * @param chan Channel.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ESTATE if already rescinded.
 */
pv_err_t pv_vmbus_device_rescind(struct pv_vmbus_channel *chan);

/**
 * @brief Send a packet to the guest on an open channel.
 * @param chan Channel.
 * @param type ::PV_VMBUS_PKT_DATA_INBAND or ::PV_VMBUS_PKT_COMPLETION.
 * @param flags Descriptor flags (::PV_VMBUS_PKT_FLAG_COMPLETION_REQUESTED).
 * @param trans_id Transaction ID.
 * @param data Payload.
 * @param len Payload length (padded to 8 with zeros on the wire).
 * @return ::PV_OK; ::PV_ESTATE if not open; ::PV_EBUSY if the ring lacks space
 *         (the device's @c writable callback runs when the guest frees some);
 *         ::PV_EINVAL; ::PV_ERANGE if the packet can never fit; a memory error.
 */
pv_err_t pv_vmbus_send(struct pv_vmbus_channel *chan, uint16_t type, uint16_t flags,
		       uint64_t trans_id, const void *data, uint32_t len);

/**
 * @brief Send a completion packet (type 0xB) for @p trans_id.
 * @param chan Channel.
 * @param trans_id Transaction ID of the request.
 * @param data Payload.
 * @param len Payload length.
 * @return As pv_vmbus_send().
 */
pv_err_t pv_vmbus_send_completion(struct pv_vmbus_channel *chan, uint64_t trans_id,
				  const void *data, uint32_t len);

/**
 * @brief Copy bytes of one GPA range of a GPA-direct packet from guest memory.
 * @param chan Channel the packet arrived on.
 * @param pkt Packet (inside the @c packet callback).
 * @param range Range index (< pkt->range_count).
 * @param offset Byte offset within the range.
 * @param buf Destination.
 * @param len Bytes; [offset, offset+len) must lie within the range.
 * @return ::PV_OK; ::PV_EINVAL; ::PV_ERANGE; a memory error.
 */
pv_err_t pv_vmbus_packet_read_range(struct pv_vmbus_channel *chan,
				    const struct pv_vmbus_packet *pkt, uint32_t range,
				    uint32_t offset, void *buf, uint32_t len);

/**
 * @brief Copy bytes into one GPA range of a GPA-direct packet.
 * @param chan Channel.
 * @param pkt Packet (inside the @c packet callback).
 * @param range Range index.
 * @param offset Byte offset within the range.
 * @param buf Source.
 * @param len Bytes.
 * @return As pv_vmbus_packet_read_range().
 */
pv_err_t pv_vmbus_packet_write_range(struct pv_vmbus_channel *chan,
				     const struct pv_vmbus_packet *pkt, uint32_t range,
				     uint32_t offset, const void *buf, uint32_t len);

/**
 * @brief Read bytes of a GPADL the guest created for this channel.
 * @param chan Channel.
 * @param gpadl_id GPADL ID.
 * @param offset Byte offset in the GPADL (its ranges laid end to end).
 * @param buf Destination.
 * @param len Bytes.
 * @return ::PV_OK; ::PV_ENOENT (no such complete GPADL on this channel);
 *         ::PV_ERANGE; a memory error.
 */
pv_err_t pv_vmbus_gpadl_read(struct pv_vmbus_channel *chan, uint32_t gpadl_id, uint64_t offset,
			     void *buf, size_t len);

/**
 * @brief Write bytes of a GPADL the guest created for this channel.
 * @param chan Channel.
 * @param gpadl_id GPADL ID.
 * @param offset Byte offset.
 * @param buf Source.
 * @param len Bytes.
 * @return As pv_vmbus_gpadl_read().
 */
pv_err_t pv_vmbus_gpadl_write(struct pv_vmbus_channel *chan, uint32_t gpadl_id, uint64_t offset,
			      const void *buf, size_t len);

/**
 * @brief Process the inbound ring now (as if the guest had signalled).
 * @param chan Channel.
 * @return ::PV_OK (also when not open); an error if the ring is corrupt.
 */
pv_err_t pv_vmbus_channel_poll(struct pv_vmbus_channel *chan);

/**
 * @brief Relid (child_relid) of a channel.
 * @param chan Channel.
 * @return Relid (1..).
 */
uint32_t pv_vmbus_channel_relid(const struct pv_vmbus_channel *chan);

/**
 * @brief Whether the guest has the channel open.
 * @param chan Channel.
 * @return true if open.
 */
bool pv_vmbus_channel_is_open(const struct pv_vmbus_channel *chan);

/**
 * @brief The server a channel belongs to.
 * @param chan Channel.
 * @return Its server.
 */
struct pv_vmbus *pv_vmbus_channel_server(struct pv_vmbus_channel *chan);

/**
 * @brief Negotiated protocol version (0 when disconnected).
 * @param vmbus Server.
 * @return major << 16 | minor.
 */
uint32_t pv_vmbus_version(struct pv_vmbus *vmbus);

/**
 * @brief Connection state.
 * @param vmbus Server.
 * @return The state.
 */
enum pv_vmbus_state pv_vmbus_get_state(struct pv_vmbus *vmbus);

/**
 * @brief Read the counters.
 * @param vmbus Server.
 * @param out Receives the counters.
 */
void pv_vmbus_get_stats(struct pv_vmbus *vmbus, struct pv_vmbus_stats *out);

/**
 * @brief Retry host-to-guest messages that the SynIC refused with ::PV_EBUSY.
 * @param vmbus Server.
 * @return ::PV_OK when nothing is left queued; ::PV_EBUSY otherwise.
 */
pv_err_t pv_vmbus_flush(struct pv_vmbus *vmbus);

/**
 * @brief Save the server, its channels, GPADLs and ring positions.
 *
 * The record is versioned and self-describing. Channels are identified by
 * instance GUID; device-private state is saved through the devices' own means.
 * @param vmbus Server.
 * @param buf Destination (may be NULL when @p cap is 0).
 * @param cap Capacity of @p buf.
 * @param len Receives the record length (also when ::PV_ERANGE is returned).
 * @return ::PV_OK; ::PV_ERANGE if @p cap is too small; ::PV_EINVAL.
 */
pv_err_t pv_vmbus_save(struct pv_vmbus *vmbus, void *buf, size_t cap, size_t *len);

/**
 * @brief Restore a record from pv_vmbus_save() into a fresh server.
 *
 * The same devices (instance GUIDs) must have been added, and no guest
 * message processed yet. Every field is validated; on error the server is
 * left disconnected with no GPADL and no channel open.
 * Open channels get their @c open and @c opened callbacks again.
 * @param vmbus Server.
 * @param buf Record.
 * @param len Record length.
 * @return ::PV_OK; ::PV_EVERSION (bad magic/version or invalid content);
 *         ::PV_ESTATE (server already in use); ::PV_ENOENT (a channel's
 *         device is missing); ::PV_ENOMEM.
 */
pv_err_t pv_vmbus_restore(struct pv_vmbus *vmbus, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_VMBUS_H */
