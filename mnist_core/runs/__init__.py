"""Training runs wherever they train: the spec, the body that trains in any process, snapshots, the queue,
the backends (child processes, Ray) and the jobs. Imports `storage` and `net`."""
