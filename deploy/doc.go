// Package deploy holds what an operator installs next to the binary: the systemd units, the sysusers file, example configuration; its tests check the units with systemd's own tools and run the daemons as the units do.
package deploy
