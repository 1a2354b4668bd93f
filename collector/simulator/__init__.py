"""The fleet simulator behind ``dexpulse simulate``: a seeded, reproducible fleet of laptops
whose agents emit wire-format batches, with injected outages and simulated helpdesk tickets,
so outage detection can be tested and benchmarked against a known truth.

The model (fleet, behaviour, correlated noise, scenarios, tickets) and its parameters are
documented in ``docs/simulator.md``; each module's docstring covers its part:

* :mod:`.catalog` the company's reference data; :mod:`.fleet` sites, access points, devices;
* :mod:`.schedule` office hours, home days, meetings; :mod:`.noise` correlated baseline noise;
* :mod:`.behaviour`, :mod:`.minute`, :mod:`.probes`, :mod:`.events`, :mod:`.render` what a
  device emits;
* :mod:`.scenarios` outage types and placement; :mod:`.effects` what an outage does;
* :mod:`.tickets` the helpdesk model; :mod:`.truth` the ground-truth file;
* :mod:`.engine` the minute loop and the agent-like uploads; :mod:`.output` files;
  :mod:`.live` posting to a collector; :mod:`.cli` the command.

Programmatic use (the benchmark streams batches without a file)::

    from dexpulse.collector.simulator.engine import Simulation, SimulationConfig

    sim = Simulation(SimulationConfig(devices=1000, seed=7))
    for batch in sim.batches():
        line = sim.line(batch)  # one wire-format Batch as JSON
    truth = sim.truth()

This package imports only the standard library (and the agent's HTTP transport in live mode),
so ``dexpulse --help`` stays light.
"""
