/* SPDX-License-Identifier: MIT */
/*
 * TMK entry (64-bit long mode, set up by the host): RDI = vCPU index,
 * RSI = vCPU count. Picks this vCPU's stack and calls tmk_entry(). Also the
 * 256 interrupt stubs, 16 bytes apart, and their common save/restore path.
 */
#define TMK_STACK_SIZE 16384

	.section .text.start, "ax"
	.globl _start
	.code64
_start:
	cli
	cmpq	$4, %rdi		/* TMK_MAX_VCPUS */
	jae	1f
	movq	%rdi, %rax
	incq	%rax
	shlq	$14, %rax		/* (index + 1) * TMK_STACK_SIZE */
	leaq	tmk_stacks(%rip), %rsp
	addq	%rax, %rsp
	call	tmk_entry
1:	cli
	hlt
	jmp	1b

	.text
	.globl tmk_isr_stubs
	.align 16
tmk_isr_stubs:
	.set vec, 0
	.rept 256
	.align 16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	tmk_isr_common
	.set vec, vec + 1
	.endr

tmk_isr_common:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rbx
	pushq	%rbp
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	call	tmk_isr
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rbp
	popq	%rbx
	popq	%rdx
	popq	%rcx
	popq	%rax
	addq	$16, %rsp
	iretq

	.bss
	.align 16
	.globl tmk_stacks
tmk_stacks:
	.skip TMK_STACK_SIZE * 4

	.section .note.GNU-stack, "", @progbits
