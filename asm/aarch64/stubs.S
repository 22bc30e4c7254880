/* Reference encodings of the AArch64 stub forms (hcr-runtime/src/arch/aarch64.rs).
 * Each case is a section of its own; asm/generate.sh turns every section
 * into one line of golden.txt. Every encoding here depends only on distances
 * from the slot, which is where each case's first instruction stands. */

	.macro case name
	.section .case.\name, "ax", %progbits
	.endm

case data_jump
	ldr	x16, . + 8		/* the target word sits at +8 */
	br	x16
case trap
	brk	#0

case near_zero
	b	.
case near_forward
	b	. + 0x1000
case near_backward
	b	. - 0x40
case near_max
	b	. + 0x7fffffc
case near_min
	b	. - 0x8000000

/* Veneer at slot + 16: the adr points 16 bytes back, at the slot; the ldr
 * stands at slot + 20 and reads the cell at (cell - slot) - 20 from itself. */
case veneer_cell_below
	adr	x0, . - 16
	ldr	x17, . + (-0x20 - 20)
	br	x17
	brk	#0
case veneer_cell_far_below
	adr	x0, . - 16
	ldr	x17, . + (-0xfffec - 20)
	br	x17
	brk	#0
case veneer_cell_above
	adr	x0, . - 16
	ldr	x17, . + (0x40 - 20)
	br	x17
	brk	#0

/* The stub page's two pieces (the paged table, as on macOS): the page is
 * copied, never written, and every copy has a data page 0x4000 bytes above
 * it. A stub puts the address of its cell (same offset, one page up) in x16
 * and jumps to what the cell holds; the bad-call entry takes the slot back
 * from x16 and jumps through the handler cell above itself. */
case page_stub
	adr	x16, . + 0x4000
	ldr	x17, [x16]
	br	x17
	brk	#0
case page_bad_call
	sub	x0, x16, #0x4000
	adr	x17, . + 0x4000 - 4
	ldr	x17, [x17]
	br	x17
