// SPDX-License-Identifier: MIT
//
// ktlsaccel(8): see cli.cpp for the command table.

#include "cli.hpp"

#include <unistd.h>

#include <iostream>

int main(int argc, char **argv)
{
	std::vector<std::string> args(argv + 1, argv + argc);
	return ktlsaccel::cli::run_cli(args, std::cout, std::cerr, isatty(STDOUT_FILENO));
}
