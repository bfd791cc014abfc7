#!/usr/bin/env python3
"""Writes sensor_occupancy.csv, the small synthetic file examples/configs/csv/sensor_occupancy.json
trains on. It has the shape office sensor logs come in: a header one field shorter than its rows, whose first
field is a row number (pandas reads such a file with that column as the index), a date-time column, '?' for readings the logger missed, irregular sampling (rows dropped), and an
imbalanced binary target. The room's CO2 follows an ODE: dC/dt = k_in * occupants - k_out * (C - 420),
so the label is easier to read from the dynamics than from any one row.

    python3 examples/data/make_sensor_occupancy.py > examples/data/sensor_occupancy.csv
"""
import math
import random
import sys
from datetime import datetime, timedelta

rng = random.Random(20261203)
start = datetime(2026, 3, 2, 0, 0, 0)  # a Monday
minutes = 4 * 24 * 60
step = 4  # minutes between logger readings
co2, temp = 430.0, 20.5
occupied = lights = False
rows = []
for m in range(0, minutes, step):
    t = start + timedelta(minutes=m)
    hour = t.hour + t.minute / 60
    working = 8.5 <= hour < 17.5
    # people come and go in runs: switch state with a small probability each reading
    p_switch = 0.08 if working else 0.01
    if rng.random() < p_switch:
        occupied = not occupied if (working or occupied) else False
    if not working and occupied and rng.random() < 0.2:
        occupied = False
    people = rng.randint(1, 4) if occupied else 0
    # lights: usually switched on by whoever is in, sometimes left on after they leave
    if occupied and not lights and rng.random() < 0.7:
        lights = True
    elif not occupied and lights and rng.random() < 0.25:
        lights = False
    for _ in range(step):  # Euler steps of one minute
        co2 += 6.0 * people - 0.04 * (co2 - 420.0)
        temp += 0.02 * people - 0.01 * (temp - 20.5)
    light = (420 + 40 * rng.gauss(0, 1)) if lights else max(0.0, 30 * math.sin(math.pi * (hour - 6) / 12)) + abs(rng.gauss(0, 5))
    humidity = 27 + 0.004 * (co2 - 420) + rng.gauss(0, 0.3)
    if rng.random() < 0.06:
        continue  # the logger missed this reading: irregular sampling
    row = [t.strftime("%Y-%m-%d %H:%M:%S"), f"{temp + rng.gauss(0, 0.05):.2f}", f"{humidity:.3f}", f"{light:.1f}",
           f"{co2 + rng.gauss(0, 8):.1f}", "1" if occupied else "0"]
    if rows and rng.random() < 0.02:
        row[rng.randint(1, 4)] = "?"
    rows.append(row)

out = sys.stdout
out.write('"date","temperature","humidity","light","co2","occupied"\n')
for i, row in enumerate(rows):
    out.write(f'"{i + 1}","{row[0]}",' + ",".join(row[1:]) + "\n")
