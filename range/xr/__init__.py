"""OpenXR: the runtime, the pose source, the headset's eyes."""
