/* SPDX-License-Identifier: MIT */
/*
 * The state shared by all connection threads of the fake API: the route
 * table and the fault rules (both under lock), and the fixed options.
 */
#ifndef FAKE_STATE_H
#define FAKE_STATE_H

#include <pthread.h>
#include <stddef.h>

#include "faults.h"
#include "routes.h"

struct state {
	pthread_mutex_t lock;		/* guards routes and faults */
	struct route_table *routes;	/* never NULL while serving */
	struct fault_list *faults;	/* NULL: none */
	const char *token;		/* NULL: no Circle-Token check */
	size_t page_size;		/* --page-size, for fixture switches */
};

extern struct state g_state;

#endif
