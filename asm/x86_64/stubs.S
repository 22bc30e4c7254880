/* Reference encodings of the x86_64 stub forms (hcr-runtime/src/arch/x86_64.rs).
 * Each case is a section of its own; asm/generate.sh turns every section
 * into one line of golden.txt. Every encoding here depends only on distances.
 * Near jumps are written as `. + 5 + D`: D is the distance from the end of
 * the 5-byte instruction, which is what the encoder receives. */

	.macro case name
	.section .case.\name, "ax", @progbits
	.endm

case data_jump
	jmp	*2(%rip)		/* the target word sits at +8 */
	int3
	int3

case near_zero
	{disp32} jmp . + 5
case near_small_forward
	{disp32} jmp . + 5 + 0x10
case near_small_backward
	{disp32} jmp . + 5 - 0x20
case near_page
	jmp	. + 5 + 0x1000
case near_max
	jmp	. + 5 + 0x7fffffff
case near_min
	jmp	. + 5 - 0x80000000

/* Veneer at slot + 16: lea ends at +23, so the slot is at rip - 23; the jmp
 * ends at +29 and reads the cell at (cell - slot) - 29 from there. */
case veneer_cell_is_first_slot
	lea	-23(%rip), %rdi
	jmp	*(-0x20 - 29)(%rip)
	int3
	int3
	int3
case veneer_cell_far_below
	lea	-23(%rip), %rdi
	jmp	*(-0x7fff0000 - 29)(%rip)
	int3
	int3
	int3
case veneer_cell_above
	lea	-23(%rip), %rdi
	jmp	*(0x40 - 29)(%rip)
	int3
	int3
	int3

/* The stub page's two pieces (the paged table, as on macOS): the page is
 * copied, never written, and every copy has a data page 0x4000 bytes above
 * it. A stub puts the address of its cell (same offset, one page up) in r11
 * and jumps to what the cell holds; the bad-call entry takes the slot back
 * from r11 (into rdi and rcx, the first argument of either calling
 * convention) and jumps through the handler cell above itself. */
case page_stub
	lea	(0x4000 - 7)(%rip), %r11
	jmp	*(%r11)
	int3
	int3
	int3
	int3
	int3
	int3
case page_bad_call
	lea	-0x4000(%r11), %rdi	/* the slot, for System V callees */
	mov	%rdi, %rcx		/* and for Windows x64 ones */
	jmp	*(0x4000 - 16)(%rip)
