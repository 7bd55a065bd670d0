/* queue_scripts.h — the queue's Redis scripts (the .lua files of host/queue), compiled in by
 * embed.cmake. */
#ifndef SPEEZY_QUEUE_SCRIPTS_H
#define SPEEZY_QUEUE_SCRIPTS_H

#include "embedded.h"

/* Terminated by an entry whose module is NULL; module is the file name without ".lua". */
extern const embedded_file_t queue_scripts[];

#endif
