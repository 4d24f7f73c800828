/* SPDX-License-Identifier: MIT */
/* pvrun's Linux mode: boot a bzImage with libparavisor's devices (linux.c). */
#ifndef PVRUN_LINUX_H
#define PVRUN_LINUX_H

#include <stdbool.h>

/* True if argv asks for the Linux mode (a --kernel option is present). */
bool pvrun_linux_wanted(int argc, char **argv);

/* Run the Linux mode; returns the process exit status (0: the guest powered
 * off through ACPI S5, 3: guest reset, 4: timeout or signal, 1: error, 2: usage). */
int pvrun_linux_main(int argc, char **argv);

#endif /* PVRUN_LINUX_H */
