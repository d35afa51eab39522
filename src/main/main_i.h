/* main: the composition root's private declarations. */
#ifndef OSSFS_MAIN_MAIN_I_H
#define OSSFS_MAIN_MAIN_I_H

#include <stdio.h>

/* "ossfs VERSION" and one line per library (version.c). */
void main_print_version(FILE *out);

#endif
