using System.Diagnostics;
using System.Text;
using SharpPrune.IO;
using SharpPrune.NN;

namespace SharpPrune.Tests.IO;

/// <summary>Edges found by fault and bad-input testing (issue 13) in the file layer.</summary>
public class HostileFileTests
{
    private static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpprune-io-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static byte[] SafeTensorsFile(string header)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length];
        BitConverter.GetBytes((ulong)h.Length).CopyTo(bytes, 0);
        h.CopyTo(bytes, 8);
        return bytes;
    }

    [Fact]
    public void StaleTempFilesOfTheTargetAreDeletedAndNothingElse()
    {
        string dir = TempDir();
        string target = Path.Combine(dir, "last.safetensors");
        string guid = Guid.NewGuid().ToString("N");
        string[] ours = [target + ".tmp-" + guid, target + ".tmp-" + Guid.NewGuid().ToString("N")];
        string[] notOurs =
        [
            target + ".tmp-" + guid[..31],              // too short
            target + ".tmp-" + guid.ToUpperInvariant(), // not Guid "N" format
            target + ".tmp-" + guid + "x",
            Path.Combine(dir, "best.safetensors.tmp-" + guid), // another target's
            Path.Combine(dir, "notes.txt"),
        ];
        foreach (var f in ours.Concat(notOurs)) File.WriteAllText(f, "x");
        Assert.Equal(2, AtomicFile.DeleteStaleTemps(target));
        Assert.All(ours, f => Assert.False(File.Exists(f), f));
        Assert.All(notOurs, f => Assert.True(File.Exists(f), f));
    }

    [Fact]
    public void WritingOntoASymlinkWritesThroughItAsPytorchDoes()
    {
        string dir = TempDir();
        string real = Path.Combine(dir, "real.safetensors"), link = Path.Combine(dir, "link.safetensors");
        File.WriteAllText(real, "old");
        File.CreateSymbolicLink(link, real);
        AtomicFile.WriteAllText(link, "new");
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Equal("new", File.ReadAllText(real));
        Assert.Equal("new", File.ReadAllText(link));
        Assert.Equal(2, Directory.GetFiles(dir).Length);
    }

    [Fact]
    public async Task AFifoIsRefusedWithoutBlocking()
    {
        if (!OperatingSystem.IsLinux()) return;
        string fifo = Path.Combine(TempDir(), "checkpoint.safetensors");
        using (var p = Process.Start("mkfifo", [fifo])) p.WaitForExit();
        var load = Task.Run(() => SafeTensors.Load(fifo));
        Assert.True(await Task.WhenAny(load, Task.Delay(TimeSpan.FromSeconds(20))) == load, "SafeTensors.Load blocked on a FIFO");
        var e = await Assert.ThrowsAsync<InvalidDataException>(() => load);
        Assert.Contains("not a regular file", e.Message);
    }

    [Fact]
    public void HeaderJsonMayNestAsDeepAsTheSafetensorsCrateAllows()
    {
        // Unknown fields of an entry are ignored (as serde does); serde_json's recursion limit is 128.
        static string Nested(int depth) => new string('[', depth) + new string(']', depth);
        var ok = SafeTensors.Deserialize(SafeTensorsFile($"{{\"t\":{{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0],\"extra\":{Nested(120)}}}}}"), "deep.safetensors");
        Assert.Equal("t", Assert.Single(ok.Tensors).Key);
        var e = Assert.Throws<SafeTensorsFormatException>(() =>
            SafeTensors.Deserialize(SafeTensorsFile($"{{\"t\":{{\"extra\":{Nested(1000)}}}}}"), "deeper.safetensors"));
        Assert.StartsWith("deeper.safetensors: header is not valid JSON", e.Message);
    }

    [Fact]
    public void AMegabyteTensorNameGivesAShortError()
    {
        string name = new('w', 1 << 20);
        var e = Assert.Throws<SafeTensorsFormatException>(() =>
            SafeTensors.Deserialize(SafeTensorsFile($"{{\"{name}\":{{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}}}"), "long.safetensors"));
        Assert.True(e.Message.Length < 1000, $"message of {e.Message.Length} characters");
        Assert.Contains("1,048,576 characters", e.Message);
    }

    [Fact]
    public void AHundredThousandUnexpectedTensorsGiveAShortError()
    {
        var model = new Linear(2, 1, true, new Generator(1));
        var state = model.StateDict().Concat(Enumerable.Range(0, 100_000).Select(i => new KeyValuePair<string, Tensor>($"extra.{i}", Tensor.Zeros(1)))).ToList();
        var e = Assert.Throws<StateDictException>(() => model.LoadStateDict(state));
        Assert.True(e.Message.Length < 1000, $"message of {e.Message.Length} characters");
        Assert.Contains("and 99,990 more", e.Message);
        Assert.Equal(100_000, e.UnexpectedKeys.Count);
    }
}
