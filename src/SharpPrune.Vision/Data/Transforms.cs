namespace SharpPrune.Vision.Data;

/// <summary>The standard pipelines per dataset (applied after the [0, 1] scaling done by the dataset).</summary>
public static class Transforms
{
    /// <summary>CIFAR: random crop 32 with padding 4, horizontal flip, normalise. MNIST-like: normalise only.</summary>
    public static ITransform Train(string dataset)
    {
        var info = DatasetInfo.Get(dataset);
        var normalize = new Normalize(info.Mean, info.Std);
        return info.IsCifar
            ? new Compose(new RandomCrop(info.Height, padding: 4), new RandomHorizontalFlip(0.5), normalize)
            : normalize;
    }

    /// <summary>Normalisation only.</summary>
    public static ITransform Test(string dataset)
    {
        var info = DatasetInfo.Get(dataset);
        return new Normalize(info.Mean, info.Std);
    }
}
