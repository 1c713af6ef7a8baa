/*
 * gpu.h: whether a job's GPUs are in use by something else, asked of
 * nvidia-smi before its trainer starts (gpu_check).
 *
 *	nvidia-smi --query-gpu=index,memory.used,memory.total
 *	    --format=csv,noheader,nounits
 *
 * A GPU of the job's with more than gpu_busy_mib in use is busy: the
 * slot is the job's alone, so that memory belongs to someone else.  No
 * nvidia-smi, an error, a hang or an answer that does not name the GPU
 * make the check unknown, and the caller goes ahead: a broken check must
 * never hold the queue.
 */
#ifndef GPU_H
#define GPU_H

#include <stddef.h>

#include "conf.h"

enum gpu_result { GPU_FREE, GPU_BUSY, GPU_UNKNOWN };

/*
 * Looks at the GPUs of gpus ("0,3", the job's CUDA_VISIBLE_DEVICES).
 * GPU_BUSY and GPU_UNKNOWN say why in why.
 */
enum gpu_result gpu_busy(const struct conf *c, const char *gpus, char *why,
	    size_t whylen);

/*
 * gpu_busy's verdict on out, nvidia-smi's answer to
 * --query-gpu=index,memory.used,memory.total --format=csv,noheader,nounits
 * (untrusted: any bytes, NUL-terminated).
 */
enum gpu_result gpu_verdict(const struct conf *c, const char *gpus,
	    const char *out, char *why, size_t whylen);

#endif
