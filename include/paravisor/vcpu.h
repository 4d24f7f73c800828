/* SPDX-License-Identifier: MIT */
/**
 * @file vcpu.h
 * @brief vCPU run loop, register access and event injection.
 */
#ifndef PARAVISOR_VCPU_H
#define PARAVISOR_VCPU_H

#include "paravisor/error.h"
#include "paravisor/exit.h"
#include "paravisor/regs.h"
#include "paravisor/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Run a vCPU until something needs the embedder.
 *
 * Loops: port run -> dispatch -> port completion. HLT waits (without
 * spinning) until an event is injected or a stop is requested, on ports
 * without an in-kernel interrupt controller. Returns on shutdown, a stop
 * request, an internal error of the port, or a port-specific exit.
 * @pre Called from the one thread that runs this vCPU.
 * @param vcpu vCPU.
 * @param last Receives the exit that ended the loop (may be NULL).
 * @return ::PV_OK when the loop ended on an exit reported in @p last
 *         (::PV_EXIT_SHUTDOWN, ::PV_EXIT_STOPPED, ::PV_EXIT_INTERNAL_ERROR,
 *         ::PV_EXIT_PORT_SPECIFIC); or the error of a failed port operation.
 */
pv_err_t pv_vcpu_run(struct pv_vcpu *vcpu, struct pv_exit *last);

/**
 * @brief Run exactly one exit: port run, dispatch, completion.
 * @pre Called from the one thread that runs this vCPU.
 * @param vcpu vCPU.
 * @param exit Receives the exit with its completion.
 * @return ::PV_OK or the port's error.
 */
pv_err_t pv_vcpu_run_once(struct pv_vcpu *vcpu, struct pv_exit *exit);

/**
 * @brief Dispatch an exit through the filters, tables and default policy.
 *
 * Used by pv_vcpu_run(); exposed for ports and backends that receive exits
 * by other means (e.g. an isolation backend decoding a \#VC). Writes the
 * completion into @p exit. Never allocates.
 * @param vcpu vCPU the exit belongs to.
 * @param exit The exit; completion written in place.
 * @return ::PV_OK (the exit was handled, possibly by the default policy);
 *         ::PV_EINVAL for a NULL argument.
 */
pv_err_t pv_vcpu_dispatch(struct pv_vcpu *vcpu, struct pv_exit *exit);

/**
 * @brief Ask a vCPU to return from pv_vcpu_run() soon. Any thread.
 * @param vcpu vCPU.
 */
void pv_vcpu_stop(struct pv_vcpu *vcpu);

/**
 * @brief Queue an event (interrupt, exception, NMI) for the vCPU. Any thread.
 *        Wakes a vCPU halted in pv_vcpu_run().
 * @param vcpu vCPU.
 * @param event Event; exceptions must have vector < 32.
 * @return ::PV_OK, ::PV_EINVAL for a malformed event, or the port's error.
 */
pv_err_t pv_vcpu_inject(struct pv_vcpu *vcpu, const struct pv_event *event);

/**
 * @brief Read GPRs, RIP and RFLAGS.
 * @param vcpu vCPU (not running, or the calling thread is its runner).
 * @param regs Out.
 * @return ::PV_OK or the port's error.
 */
pv_err_t pv_vcpu_get_regs(struct pv_vcpu *vcpu, struct pv_regs *regs);

/**
 * @brief Write GPRs, RIP and RFLAGS.
 * @param vcpu vCPU (not running, or the calling thread is its runner).
 * @param regs New values.
 * @return ::PV_OK or the port's error.
 */
pv_err_t pv_vcpu_set_regs(struct pv_vcpu *vcpu, const struct pv_regs *regs);

/**
 * @brief Read segment, descriptor-table and control registers.
 * @param vcpu vCPU (not running, or the calling thread is its runner).
 * @param sregs Out.
 * @return ::PV_OK or the port's error.
 */
pv_err_t pv_vcpu_get_sregs(struct pv_vcpu *vcpu, struct pv_sregs *sregs);

/**
 * @brief Write segment, descriptor-table and control registers.
 * @param vcpu vCPU (not running, or the calling thread is its runner).
 * @param sregs New values.
 * @return ::PV_OK or the port's error.
 */
pv_err_t pv_vcpu_set_sregs(struct pv_vcpu *vcpu, const struct pv_sregs *sregs);

/**
 * @brief Index of the vCPU in its partition (also its APIC ID and VP index).
 * @param vcpu vCPU.
 * @return 0-based index.
 */
uint32_t pv_vcpu_index(const struct pv_vcpu *vcpu);

/**
 * @brief The partition a vCPU belongs to.
 * @param vcpu vCPU.
 * @return Its partition.
 */
struct pv_partition *pv_vcpu_partition(struct pv_vcpu *vcpu);

/**
 * @brief The port's per-vCPU data (for port-specific extension calls).
 * @param vcpu vCPU.
 * @return What the port's vcpu_create stored.
 */
void *pv_vcpu_port_data(struct pv_vcpu *vcpu);

/**
 * @brief Counter of exits of one kind seen on this vCPU.
 * @param vcpu vCPU.
 * @param kind Exit kind.
 * @return The count (0 for an out-of-range kind).
 */
uint64_t pv_vcpu_exit_count(const struct pv_vcpu *vcpu, enum pv_exit_kind kind);

#ifdef __cplusplus
}
#endif

#endif /* PARAVISOR_VCPU_H */
