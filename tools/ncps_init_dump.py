#!/usr/bin/env python3
"""Dumps ncps's initial LTC(2, AutoNCP(16, 1)) parameters (and wiring) for given torch seeds as
JSON in the layout of `sine_check` (ltc-bench example), to train them with ltc-burn."""
import json
import sys

import torch
from ncps.torch import LTC
from ncps.wirings import AutoNCP

out = sys.argv[1]
for seed in map(int, sys.argv[2:]):
    torch.manual_seed(seed)
    w = AutoNCP(16, 1)
    model = LTC(2, w, batch_first=True)
    params = {n: p.detach().tolist() for n, p in model.named_parameters()}
    wiring = {
        "type": "AutoNCP", "units": 16, "input_dim": 2, "output_dim": 1,
        "layers": [list(map(int, w.get_neurons_of_layer(i))) for i in range(w.num_layers)],
        "neuron_types": [w.get_type_of_neuron(i) for i in range(16)],
        "adjacency_matrix": w.adjacency_matrix.astype(int).tolist(),
        "sensory_adjacency_matrix": w.sensory_adjacency_matrix.astype(int).tolist(),
    }
    json.dump({"params": params, "wiring": wiring}, open(f"{out}/ncps_init_{seed}.json", "w"))
    print("seed", seed, "ok")
