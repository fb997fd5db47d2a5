using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Training;

public class EpochLogTests
{
    [Fact]
    public void LinesRoundTripWithSnakeCaseKeys()
    {
        var e = new EpochLog(3, 0.1, 0.5, 80.25, 0.6, 78.5, 1.5, 1234.5);
        string json = e.ToJson();
        Assert.Contains("\"train_loss\":0.5", json);
        Assert.Contains("\"images_per_second\":1234.5", json);
        Assert.Equal(e, EpochLog.FromJson(json));
    }

    [Fact]
    public void TruncateKeepsCompletedEpochsAndDropsATornLastLine()
    {
        string path = Path.Combine(TrainingData.TempDir(), EpochLogFile.FileName);
        for (int i = 1; i <= 3; i++) EpochLogFile.Append(path, new EpochLog(i, 0.1, 1, 2, 3, 4, 5, 6));
        File.AppendAllText(path, "{\"epoch\":4,\"lr\":0.");
        EpochLogFile.TruncateAfter(path, 2);
        Assert.Equal([1, 2], EpochLogFile.Read(path).Select(e => e.Epoch));
    }
}
