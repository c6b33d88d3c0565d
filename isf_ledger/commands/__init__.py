"""The command-line commands of each package (flask CLI groups): they call the operations and print."""
