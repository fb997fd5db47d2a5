using SharpPrune.IO;

namespace SharpPrune.Tests.IO;

public class AtomicFileTests
{
    [Fact]
    public void WritesCreatesParentDirectoryAndReplacesExistingFile()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "a", "b", "out.txt");
        AtomicFile.WriteAllText(path, "first");
        Assert.Equal("first", File.ReadAllText(path));
        AtomicFile.WriteAllBytes(path, new byte[] { 1, 2, 3 });
        Assert.Equal(new byte[] { 1, 2, 3 }, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void WriterThatThrowsMidwayLeavesPreviousFileIntactAndNoTempFile()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "checkpoint.safetensors");
        SafeTensors.Save(path, new KeyValuePair<string, Tensor>[] { new("w", Tensor.Ones(4)) });
        var original = File.ReadAllBytes(path);

        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[4096]);
            s.Flush();
            throw new InvalidOperationException("disk full (simulated)");
        }));
        Assert.Equal("disk full (simulated)", e.Message);
        Assert.Equal(original, File.ReadAllBytes(path));
        Assert.Equal(new[] { path }, Directory.GetFiles(dir.Path));
        Assert.Equal(4f, SafeTensors.Load(path).Tensors[0].Value.Data.ToArray().Sum());
    }

    [Fact]
    public void FailedFirstWriteCreatesNothing()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "new.bin");
        Assert.Throws<IOException>(() => AtomicFile.Write(path, _ => throw new IOException("boom")));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void WritingOntoADirectoryIsRefused()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<IOException>(() => AtomicFile.WriteAllText(dir.Path, "x"));
        Assert.Contains("is a directory", e.Message);
    }
}
