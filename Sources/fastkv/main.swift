print("fastkv")
