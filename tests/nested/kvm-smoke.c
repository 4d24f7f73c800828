/* SPDX-License-Identifier: MIT */
/*
 * kvm-smoke: the lab's default payload. Opens /dev/kvm, runs a tiny
 * real-mode guest that loops, writes a byte to an I/O port and halts, and
 * checks the exits. Prints "kvm-smoke: PASS ..." or "kvm-smoke: FAIL ...".
 * Built statically so it runs from a busybox initramfs.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GUEST_MEM 0x10000u
#define CODE_GPA 0x1000u
#define TEST_PORT 0x10u

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int fail(const char *what)
{
	printf("kvm-smoke: FAIL %s\n", what);
	fflush(stdout);
	return 1;
}

int main(void)
{
	/* mov cx,100; l: add ax,3; loop l; mov dx,0x10; out dx,al; hlt */
	static const uint8_t code[] = {0xb9, 0x64, 0x00,      0x05, 0x03, 0x00, 0xe2,
				       0xfb, 0xba, TEST_PORT, 0x00, 0xee, 0xf4};
	double t0 = now_us();
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (kvm < 0)
		return fail("open /dev/kvm");
	if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return fail("KVM_GET_API_VERSION");
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	uint8_t *mem =
		mmap(NULL, GUEST_MEM, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap");
	memcpy(mem + CODE_GPA, code, sizeof(code));
	struct kvm_userspace_memory_region region = {.slot = 0,
						     .guest_phys_addr = 0,
						     .memory_size = GUEST_MEM,
						     .userspace_addr = (uintptr_t)mem};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	struct kvm_run *run =
		mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	struct kvm_regs regs;
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rflags = 2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");

	double t1 = now_us();
	int saw_io = 0;
	unsigned exits = 0;
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			return fail("KVM_RUN");
		exits++;
		if (run->exit_reason == KVM_EXIT_IO) {
			uint8_t *data = (uint8_t *)run + run->io.data_offset;
			/* AX = 100 * 3 = 300 = 0x12C, so AL = 0x2C. */
			if (run->io.port != TEST_PORT || run->io.direction != KVM_EXIT_IO_OUT ||
			    run->io.size != 1 || data[0] != 0x2c)
				return fail("unexpected I/O exit");
			saw_io = 1;
			continue;
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		printf("kvm-smoke: FAIL exit reason %u\n", run->exit_reason);
		return 1;
	}
	double t2 = now_us();
	if (!saw_io)
		return fail("no I/O exit before HLT");
	printf("kvm-smoke: PASS guest ran 304 instructions in %u exits (setup %.0f us, run %.0f us)\n",
	       exits, t1 - t0, t2 - t1);
	fflush(stdout);
	return 0;
}
