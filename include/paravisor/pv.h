/* SPDX-License-Identifier: MIT */
/**
 * @file pv.h
 * @brief Umbrella header: includes the whole core API of libparavisor.
 */
#ifndef PARAVISOR_PV_H
#define PARAVISOR_PV_H

#include "paravisor/config.h"
#include "paravisor/device.h"
#include "paravisor/dispatch.h"
#include "paravisor/error.h"
#include "paravisor/exit.h"
#include "paravisor/log.h"
#include "paravisor/memory.h"
#include "paravisor/partition.h"
#include "paravisor/platform.h"
#include "paravisor/port.h"
#include "paravisor/regs.h"
#include "paravisor/types.h"
#include "paravisor/vcpu.h"
#include "paravisor/version.h"

#endif /* PARAVISOR_PV_H */
