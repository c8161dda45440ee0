import math

import torch

from siammask.schedules import WarmupLogDecayLR, warmup_log_decay


def test_release_schedule_warms_up_geometrically_then_decays_to_the_end_factor():
    # release: 0.001 -> 0.005 over 5 of 20 epochs, then 0.005 -> 0.0025
    lrs = [0.005 * warmup_log_decay(step, 20, 5, 0.2, 0.5) for step in range(21)]
    assert math.isclose(lrs[0], 0.001) and math.isclose(lrs[5], 0.005)
    assert math.isclose(lrs[20], 0.0025)
    assert math.isclose(lrs[1] / lrs[0], lrs[2] / lrs[1])  # geometric steps
    assert math.isclose(lrs[10] / lrs[5], lrs[15] / lrs[10])


def test_scheduler_scales_parameter_groups_added_later_from_their_own_base():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([a], lr=1.0)
    scheduler = WarmupLogDecayLR(optimizer, total_steps=10, end_factor=0.1)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    optimizer.add_param_group({"params": [b], "lr": 0.1, "initial_lr": 0.1})
    optimizer.step()
    scheduler.step()
    factor = math.exp(0.6 * math.log(0.1))
    assert math.isclose(optimizer.param_groups[0]["lr"], factor)
    assert math.isclose(optimizer.param_groups[1]["lr"], 0.1 * factor)
