// SPDX-License-Identifier: GPL-2.0
/* Leaks through libleak.so: 8 x 512 = 4096 bytes allocated in lib_leak(). */
void lib_leak(int n);

int main(void)
{
	lib_leak(8); /* CALL: lib */
	return 0;
}
