"""The model judged where it decides (DESIGN): a simulated marketplace replayed through the deployed
ingest, job and scoring handlers in simulated time, its decisions compared with the simulator's truth
(`ticketguard evaluate live`, `make bench-detection`), and the training gate's check on it."""
