"""What is kept on disk: atomic files and folder locks, owner tags, the model store, who may change a
model, drawing collections. Imports `net` below it."""
