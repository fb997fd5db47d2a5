namespace SharpPrune.Vision.Data;

/// <summary>
/// A labelled image classification dataset. Images are CHW; <see cref="GetImage"/> writes them scaled to [0, 1]
/// (pixel / 255, as torchvision's ToTensor). Implementations must be safe for concurrent reads, because the
/// <see cref="DataLoader"/> prepares samples on several threads.
/// </summary>
public interface IImageDataset
{
    int Count { get; }
    int Channels { get; }
    int Height { get; }
    int Width { get; }
    int NumClasses { get; }
    string Name { get; }
    int Label(int index);

    /// <summary>Writes image <paramref name="index"/> as C*H*W floats in [0, 1] into <paramref name="chw"/>.</summary>
    void GetImage(int index, Span<float> chw);
}
