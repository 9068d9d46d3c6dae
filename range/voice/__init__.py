"""Voice I/O: microphone and file capture, voice activity, offline recognition, speech out.

The words-to-acts vocabulary is drills.speech (drills branch on it); everything here touches audio
devices, subprocesses or decoders, so it stays in range/, the composition root. physics/ and
peripherals/ never import it.
"""
