"""tests/ddp-train.py: a tiny DistributedDataParallel training loop on CPU
(gloo), run by Debian's torchrun through tests/swift-torchrun.  NOT
ms-swift: it writes output_dir/logging.jsonl the way ms-swift does (a
json.dumps line per step from rank 0: a learning rate high enough
diverges to a real Infinity and NaN, written bare; then the end record),
and handles SIGTERM as ms-swift's graceful_exit lets a worker: it saves
for term_delay seconds, then exits.

    ddp-train.py CONFIG --output_dir DIR [--key value]...

CONFIG's keys (lines "key: value"): lr (0.01), steps (10), step_sleep
(0.2 seconds), term_delay (0 seconds).  Every rank adds "rank R pid P sid
S" to output_dir/workers when it starts and "rank R exited" to
output_dir/exits as it ends."""
import json
import os
import signal
import sys
import time

import torch
import torch.distributed as dist

config, args = sys.argv[1], sys.argv[2:]
keys = dict(zip(args[0::2], args[1::2]))
out = keys.get('--output_dir', 'output')
conf = {}
with open(config) as f:
    for line in f:
        if ':' in line:
            k, v = line.split(':', 1)
            conf[k.strip()] = v.strip()
lr = float(conf.get('lr', '0.01'))
steps = int(conf.get('steps', '10'))
step_sleep = float(conf.get('step_sleep', '0.2'))
term_delay = float(conf.get('term_delay', '0'))

terminated = False


def on_term(sig, frame):
    global terminated
    terminated = True


signal.signal(signal.SIGTERM, on_term)
os.makedirs(out, exist_ok=True)
distributed = 'WORLD_SIZE' in os.environ
if distributed:
    dist.init_process_group('gloo')
rank = dist.get_rank() if distributed else 0


def note(name, text):
    with open(os.path.join(out, name), 'a') as f:
        f.write(text + '\n')


note('workers', f'rank {rank} pid {os.getpid()} sid {os.getsid(0)}')
torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
if distributed:
    model = torch.nn.parallel.DistributedDataParallel(model)
opt = torch.optim.SGD(model.parameters(), lr=lr)
log = open(os.path.join(out, 'logging.jsonl'), 'a') if rank == 0 else None
history = []
step = 0
for step in range(1, steps + 1):
    if terminated:
        break
    x = torch.randn(8, 4)
    loss = ((model(x) - x.sum(1, keepdim=True)) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if log:
        line = {'loss': loss.item(), 'learning_rate': lr,
                'global_step/max_steps': f'{step}/{steps}',
                'elapsed_time': '0s', 'remaining_time': '0s'}
        history.append({'loss': loss.item(), 'step': step})
        log.write(json.dumps(line) + '\n')
        log.flush()
    time.sleep(step_sleep)
if terminated:
    print(f'ddp-train: rank {rank} got SIGTERM, saving for {term_delay} s',
          flush=True)
    time.sleep(term_delay)
    note('exits', f'rank {rank} exited')
    sys.exit(143)
if log:
    ckpt = os.path.join(out, f'checkpoint-{step}')
    os.makedirs(ckpt, exist_ok=True)
    log.write(json.dumps({'last_model_checkpoint': ckpt,
                          'best_model_checkpoint': None, 'best_metric': None,
                          'global_step': step, 'log_history': history}) + '\n')
    log.close()
if distributed:
    dist.destroy_process_group()
note('exits', f'rank {rank} exited')
