"""The council the demo imagines: its people, devices, places and the words its logs use."""
