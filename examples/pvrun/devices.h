/* SPDX-License-Identifier: MIT */
/* The --device table of pvrun: one entry per device a user can attach by name. */
#ifndef PVRUN_DEVICES_H
#define PVRUN_DEVICES_H

#include "paravisor/pv.h"

struct pvrun_device {
	const char *name; /* --device NAME */
	const char *help; /* one line for --list-devices */
	/* Create the device in @part; *state is given back to detach. */
	pv_err_t (*attach)(struct pv_partition *part, void **state);
	/* Undo attach (vCPUs are stopped). */
	void (*detach)(struct pv_partition *part, void *state);
};

/* The table, terminated by an entry with a NULL name. */
extern const struct pvrun_device pvrun_devices[];

/* Look up a device by name; NULL if unknown. */
const struct pvrun_device *pvrun_device_find(const char *name);

#endif /* PVRUN_DEVICES_H */
