/** The lines every configuration file starts with (written out, not taken from src/, so a change to them fails a test). */
export const CONFIG_HEADER = 'apiVersion: digest-pinner.io/v1alpha1\nkind: Configuration\n';
