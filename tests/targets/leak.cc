// SPDX-License-Identifier: GPL-2.0
/*
 * A C++ target: 3 x new Widget (64 bytes) = 192 bytes in
 * demo::make_widgets(), reached through demo::run().
 */
namespace demo {

struct Widget {
	char buf[64];
};

Widget *volatile sink;

void make_widgets()
{
	for (int i = 0; i < 3; i++)
		sink = new Widget; /* LEAK: cxx */
}

void run()
{
	make_widgets(); /* CALL: cxx */
}

} // namespace demo

int main()
{
	demo::run(); /* CALL: cxx-run */
	return 0;
}
