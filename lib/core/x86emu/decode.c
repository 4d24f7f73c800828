/* SPDX-License-Identifier: MIT */
/*
 * x86 instruction decoder for the MMIO-capable subset (see x86emu.h).
 * Anything outside the subset, and anything the CPU would reject with #UD
 * (bad LOCK, register operand where memory is required...), is refused with
 * PV_ENOTSUP rather than guessed.
 */
#include "x86emu_internal.h"

struct dec {
	const uint8_t *b;
	size_t len; /* bytes available (<= 15) */
	size_t pos;
};

/* Make sure n more bytes are available. */
static pv_err_t need(struct dec *d, size_t n)
{
	if (d->pos + n > PV_X86_MAX_INSN_LEN)
		return PV_EBADMSG;
	if (d->pos + n > d->len)
		return PV_ERANGE;
	return PV_OK;
}

static pv_err_t take(struct dec *d, unsigned n, uint64_t *v)
{
	pv_err_t e = need(d, n);
	if (e != PV_OK)
		return e;
	*v = x86_load_le(d->b + d->pos, n);
	d->pos += n;
	return PV_OK;
}

static pv_err_t decode_modrm(struct dec *d, struct pv_x86_insn *in)
{
	uint64_t v;
	pv_err_t e = take(d, 1, &v);
	if (e != PV_OK)
		return e;
	uint8_t m = (uint8_t)v;
	unsigned mod = m >> 6, regf = (m >> 3) & 7, rmf = m & 7;
	in->has_modrm = true;
	in->modrm = m;
	in->reg = (uint8_t)(regf | ((in->rex & 4) ? 8 : 0));
	in->base = PV_X86_REG_NONE;
	in->index = PV_X86_REG_NONE;
	in->scale = 1;
	if (mod == 3) {
		in->mem = false;
		in->rm = (uint8_t)(rmf | ((in->rex & 1) ? 8 : 0));
		return PV_OK;
	}
	in->mem = true;
	in->rm = (uint8_t)rmf;
	bool ss_default = false;
	unsigned disp_size = 0;
	if (in->addrsize == 2) {
		static const uint8_t b16[8] = {PV_RBX, PV_RBX, PV_RBP, PV_RBP,
					       PV_RSI, PV_RDI, PV_RBP, PV_RBX};
		static const uint8_t i16[8] = {PV_RSI,          PV_RDI,          PV_RSI,
					       PV_RDI,          PV_X86_REG_NONE, PV_X86_REG_NONE,
					       PV_X86_REG_NONE, PV_X86_REG_NONE};
		if (mod == 0 && rmf == 6) {
			disp_size = 2;
		} else {
			in->base = b16[rmf];
			in->index = i16[rmf];
			ss_default = in->base == PV_RBP;
			disp_size = mod == 1 ? 1 : (mod == 2 ? 2 : 0);
		}
	} else {
		if (rmf == 4) {
			e = take(d, 1, &v);
			if (e != PV_OK)
				return e;
			uint8_t sib = (uint8_t)v;
			unsigned idx = ((sib >> 3) & 7) | ((in->rex & 2) ? 8 : 0);
			unsigned base = sib & 7;
			in->scale = (uint8_t)(1u << (sib >> 6));
			if (idx != 4)
				in->index = (uint8_t)idx;
			if (base == 5 && mod == 0) {
				disp_size = 4;
			} else {
				in->base = (uint8_t)(base | ((in->rex & 1) ? 8 : 0));
			}
		} else if (rmf == 5 && mod == 0) {
			disp_size = 4;
			if (in->mode == PV_X86_MODE_64)
				in->base = PV_X86_REG_RIP;
		} else {
			in->base = (uint8_t)(rmf | ((in->rex & 1) ? 8 : 0));
		}
		if (mod == 1)
			disp_size = 1;
		else if (mod == 2)
			disp_size = 4;
		ss_default = in->base == PV_RSP || in->base == PV_RBP;
	}
	if (disp_size) {
		e = take(d, disp_size, &v);
		if (e != PV_OK)
			return e;
		in->disp = x86_sext(v, disp_size);
	}
	if (in->seg == PV_X86_SEG_NONE)
		in->seg = ss_default ? PV_X86_SEG_SS : PV_X86_SEG_DS;
	return PV_OK;
}

/* ModR/M whose r/m must be a memory operand (a register form is #UD). */
static pv_err_t decode_modrm_mem(struct dec *d, struct pv_x86_insn *in)
{
	pv_err_t e = decode_modrm(d, in);
	if (e == PV_OK && !in->mem)
		return PV_ENOTSUP;
	return e;
}

/* A memory operand without ModR/M (moffs, string instructions): no base,
 * no index, DS unless overridden. */
static void implicit_mem(struct pv_x86_insn *in)
{
	in->mem = true;
	in->base = PV_X86_REG_NONE;
	in->index = PV_X86_REG_NONE;
	in->scale = 1;
	if (in->seg == PV_X86_SEG_NONE)
		in->seg = PV_X86_SEG_DS;
}

/* Operand size of an opcode whose low bit picks byte (0) or full size (1). */
static uint8_t size_w(uint8_t opcode, unsigned osz)
{
	return (opcode & 1) ? (uint8_t)osz : 1;
}

/* "op r/m, reg" where the low opcode bit picks byte or full operand size
 * (ALU 00-39, TEST 84/85, XCHG 86/87, CMPXCHG 0F B0/B1, XADD 0F C0/C1). */
static pv_err_t decode_rm_reg_w(struct dec *d, struct pv_x86_insn *in, uint8_t opcode, unsigned osz)
{
	in->opsize = size_w(opcode, osz);
	in->form = PV_X86_FORM_RM_REG;
	return decode_modrm(d, in);
}

static pv_err_t take_imm(struct dec *d, struct pv_x86_insn *in, unsigned size, bool sign)
{
	uint64_t v;
	pv_err_t e = take(d, size, &v);
	if (e != PV_OK)
		return e;
	in->imm_size = (uint8_t)size;
	in->imm = sign ? (uint64_t)x86_sext(v, size) : v;
	return PV_OK;
}

/* Immediate of an "Iz" operand: 2 bytes for 16-bit operands, else 4 (sign-extended to 64). */
static unsigned iz(const struct pv_x86_insn *in)
{
	return in->opsize == 2 ? 2 : 4;
}

/* Sign-extended immediate of an opcode whose low bit picks Ib (0) or Iz (1);
 * in->opsize must already be set. */
static pv_err_t take_imm_w(struct dec *d, struct pv_x86_insn *in, uint8_t opcode)
{
	return take_imm(d, in, (opcode & 1) ? iz(in) : 1, true);
}

/* "op AL/rAX, imm" with the low opcode bit picking the size (ALU 04/05..3C/3D,
 * TEST A8/A9). */
static pv_err_t decode_acc_imm_w(struct dec *d, struct pv_x86_insn *in, uint8_t opcode,
				 unsigned osz)
{
	in->opsize = size_w(opcode, osz);
	in->form = PV_X86_FORM_ACC_IMM;
	return take_imm_w(d, in, opcode);
}

static const uint8_t bt_ops[4] = {PV_X86_OP_BT, PV_X86_OP_BTS, PV_X86_OP_BTR, PV_X86_OP_BTC};

static bool lock_ok(const struct pv_x86_insn *in)
{
	if (!in->mem)
		return false;
	switch (in->op) {
	case PV_X86_OP_ADD:
	case PV_X86_OP_OR:
	case PV_X86_OP_ADC:
	case PV_X86_OP_SBB:
	case PV_X86_OP_AND:
	case PV_X86_OP_SUB:
	case PV_X86_OP_XOR:
	case PV_X86_OP_INC:
	case PV_X86_OP_DEC:
	case PV_X86_OP_NOT:
	case PV_X86_OP_NEG:
	case PV_X86_OP_XCHG:
	case PV_X86_OP_CMPXCHG:
	case PV_X86_OP_XADD:
	case PV_X86_OP_BTS:
	case PV_X86_OP_BTR:
	case PV_X86_OP_BTC:
		return in->form == PV_X86_FORM_RM_REG || in->form == PV_X86_FORM_RM_IMM ||
		       in->form == PV_X86_FORM_RM;
	default:
		return false;
	}
}

static const uint8_t alu_ops[8] = {PV_X86_OP_ADD, PV_X86_OP_OR,  PV_X86_OP_ADC, PV_X86_OP_SBB,
				   PV_X86_OP_AND, PV_X86_OP_SUB, PV_X86_OP_XOR, PV_X86_OP_CMP};

static pv_err_t decode_onebyte(struct dec *d, struct pv_x86_insn *in, uint8_t op)
{
	pv_err_t e;
	const unsigned osz = in->opsize;

	if (op < 0x40 && (op & 7) < 6) {
		in->op = alu_ops[op >> 3];
		switch (op & 7) {
		case 0:
		case 1:
			return decode_rm_reg_w(d, in, op, osz);
		case 2:
		case 3:
			in->opsize = size_w(op, osz);
			in->form = PV_X86_FORM_REG_RM;
			return decode_modrm(d, in);
		default:
			return decode_acc_imm_w(d, in, op, osz);
		}
	}
	switch (op) {
	case 0x63:
		if (in->mode != PV_X86_MODE_64)
			return PV_ENOTSUP; /* ARPL */
		in->op = PV_X86_OP_MOVSX;
		in->form = PV_X86_FORM_REG_RM;
		in->srcsize = osz >= 4 ? 4 : 2;
		return decode_modrm(d, in);
	case 0x80:
	case 0x81:
	case 0x82:
	case 0x83:
		if (op == 0x82 && in->mode == PV_X86_MODE_64)
			return PV_ENOTSUP;
		in->opsize = size_w(op, osz);
		in->form = PV_X86_FORM_RM_IMM;
		e = decode_modrm(d, in);
		if (e != PV_OK)
			return e;
		in->op = alu_ops[(in->modrm >> 3) & 7];
		return take_imm(d, in, op == 0x81 ? iz(in) : 1, true);
	case 0x84:
	case 0x85:
		in->op = PV_X86_OP_TEST;
		return decode_rm_reg_w(d, in, op, osz);
	case 0x86:
	case 0x87:
		in->op = PV_X86_OP_XCHG;
		return decode_rm_reg_w(d, in, op, osz);
	case 0x88:
	case 0x89:
	case 0x8a:
	case 0x8b:
		in->op = PV_X86_OP_MOV;
		in->opsize = size_w(op, osz);
		in->form = (op & 2) ? PV_X86_FORM_REG_RM : PV_X86_FORM_RM_REG;
		return decode_modrm(d, in);
	case 0xa0:
	case 0xa1:
	case 0xa2:
	case 0xa3: {
		uint64_t v;
		in->op = PV_X86_OP_MOV;
		in->opsize = size_w(op, osz);
		in->form = (op & 2) ? PV_X86_FORM_MOFFS_ACC : PV_X86_FORM_ACC_MOFFS;
		e = take(d, in->addrsize, &v);
		if (e != PV_OK)
			return e;
		implicit_mem(in);
		in->disp = (int64_t)v;
		return PV_OK;
	}
	case 0xa8:
	case 0xa9:
		in->op = PV_X86_OP_TEST;
		return decode_acc_imm_w(d, in, op, osz);
	case 0xa4:
	case 0xa5:
	case 0xa6:
	case 0xa7:
	case 0xaa:
	case 0xab:
	case 0xac:
	case 0xad:
	case 0xae:
	case 0xaf: {
		static const uint8_t sops[6] = {PV_X86_OP_MOVS, PV_X86_OP_CMPS, 0,
						PV_X86_OP_STOS, PV_X86_OP_LODS, PV_X86_OP_SCAS};
		in->op = sops[(op - 0xa4) >> 1];
		in->opsize = size_w(op, osz);
		in->form = PV_X86_FORM_STRING;
		implicit_mem(in);
		return PV_OK;
	}
	case 0xc6:
	case 0xc7:
		in->op = PV_X86_OP_MOV;
		in->opsize = size_w(op, osz);
		in->form = PV_X86_FORM_RM_IMM;
		e = decode_modrm(d, in);
		if (e != PV_OK)
			return e;
		if (((in->modrm >> 3) & 7) != 0)
			return PV_ENOTSUP; /* XABORT/XBEGIN or invalid */
		return take_imm_w(d, in, op);
	case 0xf6:
	case 0xf7: {
		in->opsize = size_w(op, osz);
		e = decode_modrm(d, in);
		if (e != PV_OK)
			return e;
		switch ((in->modrm >> 3) & 7) {
		case 0:
			in->op = PV_X86_OP_TEST;
			in->form = PV_X86_FORM_RM_IMM;
			return take_imm_w(d, in, op);
		case 2:
			in->op = PV_X86_OP_NOT;
			in->form = PV_X86_FORM_RM;
			return PV_OK;
		case 3:
			in->op = PV_X86_OP_NEG;
			in->form = PV_X86_FORM_RM;
			return PV_OK;
		default:
			return PV_ENOTSUP; /* /1 (undocumented TEST alias), MUL, IMUL, DIV, IDIV */
		}
	}
	case 0xfe:
	case 0xff:
		in->opsize = size_w(op, osz);
		e = decode_modrm(d, in);
		if (e != PV_OK)
			return e;
		switch ((in->modrm >> 3) & 7) {
		case 0:
			in->op = PV_X86_OP_INC;
			break;
		case 1:
			in->op = PV_X86_OP_DEC;
			break;
		default:
			return PV_ENOTSUP;
		}
		in->form = PV_X86_FORM_RM;
		return PV_OK;
	default:
		return PV_ENOTSUP;
	}
}

/* Mandatory-prefix selector for SSE opcodes: 0 none, 1 = 66, 2 = F3, 3 = F2. */
static unsigned sse_pfx(const struct pv_x86_insn *in)
{
	if (in->prefixes & PV_X86_PFX_REPNE)
		return 3;
	if (in->prefixes & PV_X86_PFX_REP)
		return 2;
	if (in->prefixes & PV_X86_PFX_OPSIZE)
		return 1;
	return 0;
}

static pv_err_t decode_0f(struct dec *d, struct pv_x86_insn *in, uint8_t op)
{
	pv_err_t e;
	const unsigned osz = in->opsize;
	const unsigned sp = sse_pfx(in);

	/* SSE moves: the 66/F2/F3 prefix selects the instruction. */
	switch (op) {
	case 0x10:
	case 0x11:
	case 0x28:
	case 0x29:
		if (sp > 1)
			return PV_ENOTSUP; /* MOVSS/MOVSD/CVT* */
		in->op = (op & 1) ? PV_X86_OP_SSE_STORE : PV_X86_OP_SSE_LOAD;
		in->form = (op & 1) ? PV_X86_FORM_RM_REG : PV_X86_FORM_REG_RM;
		in->opsize = 16;
		return decode_modrm(d, in);
	case 0x2b:
	case 0xe7:
		if ((op == 0x2b && sp > 1) || (op == 0xe7 && sp != 1))
			return PV_ENOTSUP;
		in->op = PV_X86_OP_SSE_STORE;
		in->form = PV_X86_FORM_RM_REG;
		in->opsize = 16;
		return decode_modrm_mem(d, in);
	case 0x6f:
	case 0x7f:
		if (sp != 1 && sp != 2)
			return PV_ENOTSUP; /* MMX MOVQ */
		in->op = op == 0x7f ? PV_X86_OP_SSE_STORE : PV_X86_OP_SSE_LOAD;
		in->form = op == 0x7f ? PV_X86_FORM_RM_REG : PV_X86_FORM_REG_RM;
		in->opsize = 16;
		return decode_modrm(d, in);
	case 0x6e:
		if (sp != 1)
			return PV_ENOTSUP;
		in->op = PV_X86_OP_MOVD_TOX;
		in->form = PV_X86_FORM_REG_RM;
		in->opsize = (in->rex & 8) ? 8 : 4;
		return decode_modrm(d, in);
	case 0x7e:
		if (sp == 1) {
			in->op = PV_X86_OP_MOVD_FROMX;
			in->form = PV_X86_FORM_RM_REG;
			in->opsize = (in->rex & 8) ? 8 : 4;
		} else if (sp == 2) {
			in->op = PV_X86_OP_MOVQ_LOAD;
			in->form = PV_X86_FORM_REG_RM;
			in->opsize = 8;
		} else {
			return PV_ENOTSUP;
		}
		return decode_modrm(d, in);
	case 0xd6:
		if (sp != 1)
			return PV_ENOTSUP;
		in->op = PV_X86_OP_MOVQ_STORE;
		in->form = PV_X86_FORM_RM_REG;
		in->opsize = 8;
		return decode_modrm(d, in);
	default:
		break;
	}

	/* Integer 0F opcodes: F2/F3 select other instructions (POPCNT, TZCNT...). */
	if (sp >= 2)
		return PV_ENOTSUP;

	if (op >= 0x90 && op <= 0x9f) {
		in->op = PV_X86_OP_SETCC;
		in->cc = op & 0xf;
		in->opsize = 1;
		in->form = PV_X86_FORM_RM;
		return decode_modrm(d, in);
	}
	switch (op) {
	case 0xa3:
	case 0xab:
	case 0xb3:
	case 0xbb:
		in->op = bt_ops[(op >> 3) & 3];
		in->form = PV_X86_FORM_RM_REG;
		return decode_modrm(d, in);
	case 0xba: {
		e = decode_modrm(d, in);
		if (e != PV_OK)
			return e;
		unsigned sub = (in->modrm >> 3) & 7;
		if (sub < 4)
			return PV_ENOTSUP;
		in->op = bt_ops[sub - 4];
		in->form = PV_X86_FORM_RM_IMM;
		return take_imm(d, in, 1, false);
	}
	case 0xb0:
	case 0xb1:
		in->op = PV_X86_OP_CMPXCHG;
		return decode_rm_reg_w(d, in, op, osz);
	case 0xc0:
	case 0xc1:
		in->op = PV_X86_OP_XADD;
		return decode_rm_reg_w(d, in, op, osz);
	case 0xb6:
	case 0xb7:
	case 0xbe:
	case 0xbf:
		in->op = (op & 8) ? PV_X86_OP_MOVSX : PV_X86_OP_MOVZX;
		in->srcsize = (op & 1) ? 2 : 1;
		in->form = PV_X86_FORM_REG_RM;
		return decode_modrm(d, in);
	case 0xc3:
		if (osz == 2)
			return PV_ENOTSUP;
		in->op = PV_X86_OP_MOV; /* MOVNTI */
		in->form = PV_X86_FORM_RM_REG;
		return decode_modrm_mem(d, in);
	default:
		return PV_ENOTSUP;
	}
}

pv_err_t pv_x86emu_decode(const uint8_t *bytes, size_t len, enum pv_x86_mode mode,
			  struct pv_x86_insn *out)
{
	if (!bytes || !out || (unsigned)mode > PV_X86_MODE_64)
		return PV_EINVAL;
	struct pv_x86_insn in = {0};
	struct dec d = {bytes, len > PV_X86_MAX_INSN_LEN ? PV_X86_MAX_INSN_LEN : len, 0};
	in.mode = (uint8_t)mode;
	in.seg = PV_X86_SEG_NONE;
	in.base = PV_X86_REG_NONE;
	in.index = PV_X86_REG_NONE;
	in.scale = 1;

	uint8_t op;
	for (;;) {
		pv_err_t e = need(&d, 1);
		if (e != PV_OK)
			return e;
		op = bytes[d.pos];
		uint8_t seg = PV_X86_SEG_NONE;
		switch (op) {
		case 0xf0:
			in.prefixes |= PV_X86_PFX_LOCK;
			break;
		case 0xf2:
			in.prefixes = (uint8_t)((in.prefixes & ~PV_X86_PFX_REP) | PV_X86_PFX_REPNE);
			break;
		case 0xf3:
			in.prefixes = (uint8_t)((in.prefixes & ~PV_X86_PFX_REPNE) | PV_X86_PFX_REP);
			break;
		case 0x66:
			in.prefixes |= PV_X86_PFX_OPSIZE;
			break;
		case 0x67:
			in.prefixes |= PV_X86_PFX_ADSIZE;
			break;
		case 0x26:
			seg = PV_X86_SEG_ES;
			break;
		case 0x2e:
			seg = PV_X86_SEG_CS;
			break;
		case 0x36:
			seg = PV_X86_SEG_SS;
			break;
		case 0x3e:
			seg = PV_X86_SEG_DS;
			break;
		case 0x64:
			seg = PV_X86_SEG_FS;
			break;
		case 0x65:
			seg = PV_X86_SEG_GS;
			break;
		default:
			if (mode == PV_X86_MODE_64 && (op & 0xf0) == 0x40) {
				in.rex = op;
				d.pos++;
				continue;
			}
			goto prefixes_done;
		}
		if (seg != PV_X86_SEG_NONE) {
			in.prefixes |= PV_X86_PFX_SEG;
			/* In 64-bit mode only FS and GS overrides have an effect. */
			if (mode != PV_X86_MODE_64 || seg >= PV_X86_SEG_FS)
				in.seg = seg;
			else
				in.seg = PV_X86_SEG_NONE;
		}
		in.rex = 0; /* a REX prefix followed by a legacy prefix is ignored */
		d.pos++;
	}
prefixes_done:
	d.pos++;
	if (mode == PV_X86_MODE_64)
		in.opsize = (in.rex & 8) ? 8 : ((in.prefixes & PV_X86_PFX_OPSIZE) ? 2 : 4);
	else if (mode == PV_X86_MODE_32)
		in.opsize = (in.prefixes & PV_X86_PFX_OPSIZE) ? 2 : 4;
	else
		in.opsize = (in.prefixes & PV_X86_PFX_OPSIZE) ? 4 : 2;
	if (mode == PV_X86_MODE_64)
		in.addrsize = (in.prefixes & PV_X86_PFX_ADSIZE) ? 4 : 8;
	else if (mode == PV_X86_MODE_32)
		in.addrsize = (in.prefixes & PV_X86_PFX_ADSIZE) ? 2 : 4;
	else
		in.addrsize = (in.prefixes & PV_X86_PFX_ADSIZE) ? 4 : 2;

	pv_err_t e;
	if (op == 0x0f) {
		uint64_t v;
		e = take(&d, 1, &v);
		if (e != PV_OK)
			return e;
		in.map = 1;
		in.opcode = (uint8_t)v;
		e = decode_0f(&d, &in, in.opcode);
	} else {
		in.opcode = op;
		e = decode_onebyte(&d, &in, op);
	}
	if (e != PV_OK)
		return e;
	if (in.srcsize == 0)
		in.srcsize = in.opsize;
	if ((in.prefixes & PV_X86_PFX_LOCK) && !lock_ok(&in))
		return PV_ENOTSUP; /* #UD */
	if (in.seg == PV_X86_SEG_NONE && in.mem)
		in.seg = PV_X86_SEG_DS;
	in.len = (uint8_t)d.pos;
	*out = in;
	return PV_OK;
}
