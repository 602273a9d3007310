// SPDX-License-Identifier: MIT
//
// A program outside the tree that uses only the control client,
// libktlsaccel-control, built with
//   c++ -std=c++23 consumer-control.cpp $(pkg-config --cflags --libs libktlsaccel-control)
// or find_package(ktlsaccel COMPONENTS control) + ktlsaccel::control.
//
//   ktlsaccel-consumer-control
//
// Prints the engine's queues and depth and exits 0 when the module is
// loaded; exits 3 with the client's message when it is not (a host without
// the module), 1 on any other failure.
#include <ktlsaccel/control.hpp>

#include <cstdio>

int main()
{
	namespace control = ktlsaccel::control;
	auto client = control::client::open();
	if (!client) {
		std::printf("consumer-control: %s\n", control::describe(client.error()).c_str());
		return client.error() == control::errc::not_loaded ? 3 : 1;
	}
	auto dev = client->get_device();
	if (!dev) {
		std::fprintf(stderr, "consumer-control: %s\n",
			     control::describe(dev.error(), client->extack()).c_str());
		return 1;
	}
	std::printf("consumer-control: queues %u depth %u\n", dev->queues, dev->depth);
	return 0;
}
