/* Reference encodings of the ARMv7 (A32) stub forms (hcr-runtime/src/arch/arm.rs).
 * Each case is a section of its own; asm/generate.sh turns every section
 * into one line of golden.txt. A branch's distance is measured from the
 * slot, where each case's first instruction stands (the pc reads 8 ahead). */

	.syntax unified
	.arm

	.macro case name
	.section .case.\name, "ax", %progbits
	.endm

case data_jump
	ldr	pc, [pc, #0]		/* loads the target word at +8 */
	udf	#0
case trap
	udf	#0

case near_to_self
	b	.
case near_forward
	b	. + 0x1000
case near_backward
	b	. - 0x40
case near_max
	b	. + 8 + 0x1fffffc
case near_min
	b	. + 8 - 0x2000000

/* Veneer at slot + 16: the pc reads slot + 24 there, so r0 = slot. */
case veneer_cell_low
	sub	r0, pc, #24
	movw	ip, #0x0000
	movt	ip, #0x1000
	ldr	pc, [ip]
case veneer_cell_high
	sub	r0, pc, #24
	movw	ip, #0x1234
	movt	ip, #0xbeef
	ldr	pc, [ip]
