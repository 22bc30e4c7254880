/* Reference encodings of the x86 (32-bit) stub forms
 * (hcr-runtime/src/arch/x86.rs). The cases assume a slot at 0x10000000 and
 * a bad-call handler cell at 0x0ffff000. */

	.macro case name
	.section .case.\name, "ax", @progbits
	.endm

case data_jump
	jmp	*0x10000008		/* the target word sits at slot + 8 */
	int3
	int3

case near_zero
	{disp32} jmp . + 5
case near_backward
	jmp	. + 5 - 0x105
case near_max
	jmp	. + 5 + 0x7fffffff
/* 0xf0000000 is 0xe0000000 above the slot, reached by wrapping: -0x20000005 */
case near_wraps_below_zero
	jmp	. + 5 - 0x20000005

case veneer
	sub	$8, %esp
	push	$0x10000000
	push	%eax
	jmp	*0x0ffff000
	int3
